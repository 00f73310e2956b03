// Package newpeer is the new-external-peer rule (ATT&CK T1133, T1071,
// T1048): the HIS network is supposed to be closed, so any flow between an
// internal host and an external address that is neither in the baseline
// (by address or by a name the host used: DNS, TLS SNI, HTTP Host) nor in
// allowed_external raises one alert per (internal host, external peer).
//
// Severity follows what the on-call person cares about: inbound is worse
// than outbound, remote-access and file-sharing ports (RDP, SMB, SSH, VNC,
// VPN, remote-support tools) are worse, a large upload is worse (T1048),
// and night makes what is already high critical. A connection the peer never answered is low. Inbound
// attempts that nobody answered (internet noise) are ignored unless
// configured.
//
// So that a host that suddenly talks to hundreds of new peers gives one
// alert and not hundreds, after MaxPerHost alerts in an hour its further
// new peers are folded into one "many new peers" alert, updated as it
// grows. Vendors' declared addresses belong to the maintenance-window
// rule and are skipped here.
package newpeer
