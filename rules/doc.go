// Package rules turns pipeline records into alerts.
//
// A rule is one package under rules/ (rdpscan, smblateral, nightbeacon,
// newpeer, maintwindow, segmentpolicy) exporting a Meta, a Config with
// DefaultConfig, and New(cfg, site, base) returning a Detector. The
// registry in rules/all lists them explicitly.
//
// This package holds what every rule shares:
//   - Detector and Raise, the two-method contract of §2.3 of STYLE.md;
//   - Meta: what a rule is (id, ATT&CK techniques, severity, English and
//     Japanese text) and how it starts an event.Alert;
//   - Site: the hospital's facts from the configuration file (timezone,
//     night hours, segments, servers by role, admins, allowed external
//     peers, vendor maintenance windows, segment policy), decoded from YAML
//     with file:line: field errors;
//   - Episodes: bounded per-key alert episodes, so that one episode gives
//     one alert, re-raised with the same id only as it grows;
//   - small helpers over event.Flow (failed, established, short).
//
// Rules never import protocol packages. They read protocol facts through
// small accessor interfaces (e.g. ServerNamer) that protocol record types
// satisfy structurally, and they read the learned baseline through the
// read-only baseline.View.
//
// Invariants: a Detector is driven by one goroutine; its state is bounded
// by its Config and every limit reached is counted; its only clock is
// packet time (record times and Tick).
package rules
