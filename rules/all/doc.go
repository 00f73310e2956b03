// Package all is the explicit registry of mamori's rules: Rules lists them
// in a fixed order, Config composes their configurations under the
// configuration file's rules: section, and Detectors builds the enabled
// ones. A meta test fails when a package under rules/ is missing here.
package all
