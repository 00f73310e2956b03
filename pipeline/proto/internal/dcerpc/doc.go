// Package dcerpc decodes connection-oriented DCE/RPC (C706 chapter 12,
// MS-RPCE §2.2.2) as it runs over SMB named pipes: the PDU header, bind and
// alter_context with their presentation contexts (interface UUID and
// version), bind_ack/bind_nak results, request opnums, responses, faults,
// and the return code at the end of a response stub. Interfaces are named
// from their UUID (svcctl, atsvc, winreg, samr, lsarpc, drsuapi, srvsvc,
// netlogon, epmapper, spoolss, eventlog, wkssvc, ITaskSchedulerService and
// a few more) and their opnums named from the Microsoft protocol documents
// (MS-SCMR, MS-TSCH, MS-RRP, MS-SAMR, MS-LSAD/LSAT, MS-DRSR, MS-SRVS,
// MS-NRPC, MS-RPRN, MS-EVEN, MS-WKST, MS-EFSR).
//
// A few requests that matter to an analyst hunting lateral movement have
// their arguments decoded from the NDR stub: svcctl CreateServiceW/A
// (service name, display name, binary path), ChangeServiceConfigW (binary
// path), atsvc NetrJobAdd (command), ITaskSchedulerService
// SchRpcRegisterTask (task path and the <Command>/<Arguments> of its XML),
// winreg BaseRegCreateKey/BaseRegOpenKey (sub key) and BaseRegSetValue
// (value name). Stubs sealed at the privacy authentication level are not
// decoded.
//
// Conn is one pipe's two byte streams. It is streaming and bounded: a PDU
// is buffered up to Limits.MaxPDU bytes (a longer one is read for its
// header and skipped), fragments of one call are not joined (the first
// fragment carries the opnum and the arguments decoded here), and the
// pending calls and bound contexts are bounded tables. Gaps are survived by
// resynchronising at the next PDU header that looks valid.
package dcerpc
