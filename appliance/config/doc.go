// Package config reads mamori's one configuration file. The file is YAML;
// each section is the Config type of the package it configures (flow.Config
// under "flow:", and so on), so a package's defaults and checks live with
// the package and this one only composes them.
//
// Load refuses unknown keys and invalid values with the file, the line and
// the key at fault ("mamori.yaml:42: flow.tcp_timeout: must be at least 1s").
// The embedded default.yaml is the documented example and is what runs when
// no file is given.
package config
