// Package scenario renders simulated hospitals as packet captures, so that
// mamori's detections can be checked end to end: captures → decoding →
// flows → TCP reassembly → protocol analyzers → baseline and rules, the
// path `mamori baseline learn` and `mamori replay --baseline` take.
//
// A scenario, drawn from a seed, is a hospital (HIS, PACS, department,
// device, DMZ and vendor segments; host counts, address plan, server
// addresses, HL7, DICOM, EHR and RDP ports, the vendor's window) with:
//
//   - several normal days in the Asia/Tokyo day/night rhythm: Windows
//     logons (DNS, Kerberos, LDAP, SMB2 with NTLMSSP to SYSVOL), file
//     shares, the EHR over TLS with SNI, printing, PACS images over DICOM
//     and HTTP, HL7 over MLLP, SNMP, NTP and antivirus updates, an infusion
//     pump gateway calling its cloud, nightly backups, administrators' RDP
//     and software pushes, the vendor's maintenance inside its window;
//   - an attack day (and the next morning) with labelled episodes for each
//     rule: RDP scans (fast, slow, at night, on a non-standard port), RDP
//     brute force, an RDP pair never seen, PsExec spread over SMB (ADMIN$
//     or C$, port 445 or 139, SMB 3.0.2 or 3.1.1, compound requests or
//     not), an SMB sweep, ransomware renaming a share's files, a night
//     beacon (TLS with SNI, HTTP polling with DNS per beat, TLS to a bare
//     address; jitter and missed beats), an exfiltration, inbound RDP from
//     the internet, the vendor at night, bypassing its jump host and
//     reaching an unlisted host, a segment policy violation;
//   - near misses each rule must stay silent on: an administrator's
//     software push and RDP round, mistyped host names, five failed RDP
//     logons, a new workstation, a batch of scanned forms, night-shift
//     work, learned and allowed periodic traffic, a cloud service that
//     moved under the same name, nightly backups, the vendor inside its
//     window and ten minutes early.
//
// Packets are protocol-correct and minimal: TCP handshakes and teardowns
// (refused connections answered by a reset, scans' unanswered SYNs
// retransmitted), checksums, and payloads laid out as the protocols'
// specifications say, so that Wireshark dissects them without complaint.
// Bulk data (images, backups, remote desktop screens) is captured headers
// only, as a capture with a short snap length records it: the flow table
// counts the bytes on the wire, the analyzers see a gap.
//
// Generate builds a scenario; Scenario.Write writes site.yaml, a
// learn-N.pcap per normal day, attack.pcap and labels.json (the labels
// rules/rulestest.Scenario.Score matches alerts with). The command
// cmd/scenariogen does the same from the command line.
//
// Everything is drawn from the seed: the same seed gives the same bytes.
package scenario
