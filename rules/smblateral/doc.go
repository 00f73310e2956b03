// Package smblateral is the smb-lateral rule: lateral movement over SMB
// (ATT&CK T1021.002, T1570, T1569.002, T1486).
//
// One episode per source host gathers every finding of that host: SMB to
// several hosts it never used SMB with (fan-out), tree connects to
// administrative shares (ADMIN$, C$, other X$) from hosts not listed as
// admins, executables written to those shares, services or tasks created
// over the svcctl/atsvc named pipes (PsExec style). The alert is raised at
// the first finding and updated when a new kind of finding appears, the
// severity rises or the targets double.
//
// A second episode kind catches ransomware-like bursts: many files of one
// host given a new extension (renamed, or rewritten under a new
// extension) within a short window.
//
// SMB protocol facts come from the protocol layer's records through the
// Tree, File and RPC accessor interfaces; fan-out needs flows only.
// Ordinary logon traffic (SYSVOL, NETLOGON, IPC$ to the domain
// controllers) is silent.
package smblateral
