package dcerpc

import "encoding/hex"

// UUID is an interface or object UUID in its canonical string byte order
// (the wire's first three fields, little-endian, already swapped).
type UUID [16]byte

// String formats u as 8-4-4-4-12 lowercase hex.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// uuidLE reads a UUID in little-endian NDR representation.
func uuidLE(b []byte) UUID {
	var u UUID
	u[0], u[1], u[2], u[3] = b[3], b[2], b[1], b[0]
	u[4], u[5] = b[5], b[4]
	u[6], u[7] = b[7], b[6]
	copy(u[8:], b[8:16])
	return u
}

// uuidBE reads a UUID in big-endian NDR representation.
func uuidBE(b []byte) UUID {
	var u UUID
	copy(u[:], b[:16])
	return u
}

// MustUUID parses a canonical UUID string; it panics on a malformed
// constant (used only for the package's tables).
func MustUUID(s string) UUID {
	var u UUID
	if len(s) != 36 {
		panic("dcerpc: bad uuid " + s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		panic("dcerpc: bad uuid " + s)
	}
	return u
}

// Interface is a known RPC interface.
type Interface struct {
	Name string
	UUID UUID
	// Ops names the opnums; an opnum past the end or with an empty name is
	// unnamed.
	Ops []string
}

// Operation returns the name of opnum, or "".
func (i *Interface) Operation(opnum uint16) string {
	if i == nil || int(opnum) >= len(i.Ops) {
		return ""
	}
	return i.Ops[opnum]
}

// Lookup returns the known interface with UUID u, or nil.
func Lookup(u UUID) *Interface {
	for i := range interfaces {
		if interfaces[i].UUID == u {
			return &interfaces[i]
		}
	}
	return nil
}

// Interfaces lists the known interfaces (read-only).
func Interfaces() []Interface { return interfaces }

// sparse builds an opnum table from (opnum, name) pairs.
func sparse(n int, pairs map[int]string) []string {
	ops := make([]string, n)
	for k, v := range pairs {
		ops[k] = v
	}
	return ops
}

// Interface UUIDs used by the argument decoders.
var (
	uuidSvcctl = MustUUID("367abb81-9844-35f1-ad32-98f038001003")
	uuidAtsvc  = MustUUID("1ff70682-0a51-30e8-076d-740be8cee98b")
	uuidTSch   = MustUUID("86d35949-83c9-4044-b424-db363231fd0c")
	uuidWinreg = MustUUID("338cd001-2244-31f1-aaaa-900038001003")
)

// interfaces is the table of known interfaces. Operation names follow the
// Microsoft documents without their "R"/"IDL_DRS"/"Rpc" prefixes where
// Wireshark drops them too, so that they read as analysts know them
// (CreateServiceW, DsGetNCChanges).
var interfaces = []Interface{
	{Name: "svcctl", UUID: uuidSvcctl, Ops: []string{
		"CloseServiceHandle", "ControlService", "DeleteService", "LockServiceDatabase",
		"QueryServiceObjectSecurity", "SetServiceObjectSecurity", "QueryServiceStatus", "SetServiceStatus",
		"UnlockServiceDatabase", "NotifyBootConfigStatus", "", "ChangeServiceConfigW",
		"CreateServiceW", "EnumDependentServicesW", "EnumServicesStatusW", "OpenSCManagerW",
		"OpenServiceW", "QueryServiceConfigW", "QueryServiceLockStatusW", "StartServiceW",
		"GetServiceDisplayNameW", "GetServiceKeyNameW", "", "ChangeServiceConfigA",
		"CreateServiceA", "EnumDependentServicesA", "EnumServicesStatusA", "OpenSCManagerA",
		"OpenServiceA", "QueryServiceConfigA", "QueryServiceLockStatusA", "StartServiceA",
		"GetServiceDisplayNameA", "GetServiceKeyNameA", "", "EnumServiceGroupW",
		"ChangeServiceConfig2A", "ChangeServiceConfig2W", "QueryServiceConfig2A", "QueryServiceConfig2W",
		"QueryServiceStatusEx", "EnumServicesStatusExA", "EnumServicesStatusExW", "",
		"CreateServiceWOW64A", "CreateServiceWOW64W", "", "NotifyServiceStatusChange",
		"GetNotifyResults", "CloseNotifyHandle", "ControlServiceExA", "ControlServiceExW",
		"", "", "", "", "QueryServiceConfigEx", "", "", "", "CreateWowService",
	}},
	{Name: "atsvc", UUID: uuidAtsvc, Ops: []string{"NetrJobAdd", "NetrJobDel", "NetrJobEnum", "NetrJobGetInfo"}},
	{Name: "ITaskSchedulerService", UUID: uuidTSch, Ops: []string{
		"SchRpcHighestVersion", "SchRpcRegisterTask", "SchRpcRetrieveTask", "SchRpcCreateFolder",
		"SchRpcSetSecurity", "SchRpcGetSecurity", "SchRpcEnumFolders", "SchRpcEnumTasks",
		"SchRpcEnumInstances", "SchRpcGetInstanceInfo", "SchRpcStopInstance", "SchRpcStop",
		"SchRpcRun", "SchRpcDelete", "SchRpcRename", "SchRpcScheduledRuntimes",
		"SchRpcGetLastRunInfo", "SchRpcGetTaskInfo", "SchRpcGetNumberOfMissedRuns", "SchRpcEnableTask",
	}},
	{Name: "sasec", UUID: MustUUID("378e52b0-c0a9-11cf-822d-00aa0051e40f"), Ops: []string{
		"SASetAccountInformation", "SASetNSAccountInformation", "SAGetNSAccountInformation", "SAGetAccountInformation",
	}},
	{Name: "winreg", UUID: uuidWinreg, Ops: []string{
		"OpenClassesRoot", "OpenCurrentUser", "OpenLocalMachine", "OpenPerformanceData",
		"OpenUsers", "BaseRegCloseKey", "BaseRegCreateKey", "BaseRegDeleteKey",
		"BaseRegDeleteValue", "BaseRegEnumKey", "BaseRegEnumValue", "BaseRegFlushKey",
		"BaseRegGetKeySecurity", "BaseRegLoadKey", "", "BaseRegOpenKey",
		"BaseRegQueryInfoKey", "BaseRegQueryValue", "BaseRegReplaceKey", "BaseRegRestoreKey",
		"BaseRegSaveKey", "BaseRegSetKeySecurity", "BaseRegSetValue", "BaseRegUnLoadKey",
		"BaseInitiateSystemShutdown", "BaseAbortSystemShutdown", "BaseRegGetVersion", "OpenCurrentConfig",
		"", "BaseRegQueryMultipleValues", "BaseInitiateSystemShutdownEx", "BaseRegSaveKeyEx",
		"OpenPerformanceText", "OpenPerformanceNlsText", "BaseRegQueryMultipleValues2", "BaseRegDeleteKeyEx",
	}},
	{Name: "samr", UUID: MustUUID("12345778-1234-abcd-ef00-0123456789ac"), Ops: sparse(74, map[int]string{
		0: "SamrConnect", 1: "SamrCloseHandle", 2: "SamrSetSecurityObject", 3: "SamrQuerySecurityObject",
		5: "SamrLookupDomainInSamServer", 6: "SamrEnumerateDomainsInSamServer", 7: "SamrOpenDomain",
		8: "SamrQueryInformationDomain", 9: "SamrSetInformationDomain", 10: "SamrCreateGroupInDomain",
		11: "SamrEnumerateGroupsInDomain", 12: "SamrCreateUserInDomain", 13: "SamrEnumerateUsersInDomain",
		14: "SamrCreateAliasInDomain", 15: "SamrEnumerateAliasesInDomain", 16: "SamrGetAliasMembership",
		17: "SamrLookupNamesInDomain", 18: "SamrLookupIdsInDomain", 19: "SamrOpenGroup",
		20: "SamrQueryInformationGroup", 21: "SamrSetInformationGroup", 22: "SamrAddMemberToGroup",
		23: "SamrDeleteGroup", 24: "SamrRemoveMemberFromGroup", 25: "SamrGetMembersInGroup",
		26: "SamrSetMemberAttributesOfGroup", 27: "SamrOpenAlias", 28: "SamrQueryInformationAlias",
		29: "SamrSetInformationAlias", 30: "SamrDeleteAlias", 31: "SamrAddMemberToAlias",
		32: "SamrRemoveMemberFromAlias", 33: "SamrGetMembersInAlias", 34: "SamrOpenUser",
		35: "SamrDeleteUser", 36: "SamrQueryInformationUser", 37: "SamrSetInformationUser",
		38: "SamrChangePasswordUser", 39: "SamrGetGroupsForUser", 40: "SamrQueryDisplayInformation",
		41: "SamrGetDisplayEnumerationIndex", 44: "SamrGetUserDomainPasswordInformation",
		45: "SamrRemoveMemberFromForeignDomain", 46: "SamrQueryInformationDomain2",
		47: "SamrQueryInformationUser2", 48: "SamrQueryDisplayInformation2",
		49: "SamrGetDisplayEnumerationIndex2", 50: "SamrCreateUser2InDomain",
		51: "SamrQueryDisplayInformation3", 52: "SamrAddMultipleMembersToAlias",
		53: "SamrRemoveMultipleMembersFromAlias", 54: "SamrOemChangePasswordUser2",
		55: "SamrUnicodeChangePasswordUser2", 56: "SamrGetDomainPasswordInformation",
		57: "SamrConnect2", 58: "SamrSetInformationUser2", 62: "SamrConnect4", 64: "SamrConnect5",
		65: "SamrRidToSid", 66: "SamrSetDSRMPassword", 67: "SamrValidatePassword",
		73: "SamrUnicodeChangePasswordUser4",
	})},
	{Name: "lsarpc", UUID: MustUUID("12345778-1234-abcd-ef00-0123456789ab"), Ops: sparse(132, map[int]string{
		0: "LsarClose", 2: "LsarEnumeratePrivileges", 3: "LsarQuerySecurityObject", 4: "LsarSetSecurityObject",
		6: "LsarOpenPolicy", 7: "LsarQueryInformationPolicy", 8: "LsarSetInformationPolicy",
		10: "LsarCreateAccount", 11: "LsarEnumerateAccounts", 12: "LsarCreateTrustedDomain",
		13: "LsarEnumerateTrustedDomains", 14: "LsarLookupNames", 15: "LsarLookupSids",
		16: "LsarCreateSecret", 17: "LsarOpenAccount", 18: "LsarEnumeratePrivilegesAccount",
		19: "LsarAddPrivilegesToAccount", 20: "LsarRemovePrivilegesFromAccount",
		23: "LsarGetSystemAccessAccount", 24: "LsarSetSystemAccessAccount", 25: "LsarOpenTrustedDomain",
		26: "LsarQueryInfoTrustedDomain", 27: "LsarSetInformationTrustedDomain", 28: "LsarOpenSecret",
		29: "LsarSetSecret", 30: "LsarQuerySecret", 31: "LsarLookupPrivilegeValue",
		32: "LsarLookupPrivilegeName", 33: "LsarLookupPrivilegeDisplayName", 34: "LsarDeleteObject",
		35: "LsarEnumerateAccountsWithUserRight", 36: "LsarEnumerateAccountRights",
		37: "LsarAddAccountRights", 38: "LsarRemoveAccountRights", 39: "LsarQueryTrustedDomainInfo",
		40: "LsarSetTrustedDomainInfo", 41: "LsarDeleteTrustedDomain", 42: "LsarStorePrivateData",
		43: "LsarRetrievePrivateData", 44: "LsarOpenPolicy2", 45: "LsarGetUserName",
		46: "LsarQueryInformationPolicy2", 47: "LsarSetInformationPolicy2",
		48: "LsarQueryTrustedDomainInfoByName", 49: "LsarSetTrustedDomainInfoByName",
		50: "LsarEnumerateTrustedDomainsEx", 51: "LsarCreateTrustedDomainEx",
		53: "LsarQueryDomainInformationPolicy", 54: "LsarSetDomainInformationPolicy",
		55: "LsarOpenTrustedDomainByName", 57: "LsarLookupSids2", 58: "LsarLookupNames2",
		59: "LsarCreateTrustedDomainEx2", 68: "LsarLookupNames3", 73: "LsarQueryForestTrustInformation",
		74: "LsarSetForestTrustInformation", 76: "LsarLookupSids3", 77: "LsarLookupNames4",
		129: "LsarOpenPolicy3", 130: "LsarQueryForestTrustInformation2", 131: "LsarSetForestTrustInformation2",
	})},
	{Name: "drsuapi", UUID: MustUUID("e3514235-4b06-11d1-ab04-00c04fc2dcd2"), Ops: []string{
		"DsBind", "DsUnbind", "DsReplicaSync", "DsGetNCChanges", "DsReplicaUpdateRefs",
		"DsReplicaAdd", "DsReplicaDel", "DsReplicaMod", "DsVerifyNames", "DsGetMemberships",
		"DsInterDomainMove", "DsGetNT4ChangeLog", "DsCrackNames", "DsWriteAccountSpn",
		"DsRemoveDSServer", "DsRemoveDSDomain", "DsGetDomainControllerInfo", "DsAddEntry",
		"DsExecuteKCC", "DsReplicaGetInfo", "DsAddSidHistory", "DsGetMemberships2",
		"DsReplicaVerifyObjects", "DsGetObjectExistence", "DsQuerySitesByCost", "DsInitDemotion",
		"DsReplicaDemotion", "DsFinishDemotion", "DsAddCloneDC", "DsWriteNgcKey", "DsReadNgcKey",
	}},
	{Name: "srvsvc", UUID: MustUUID("4b324fc8-1670-01d3-1278-5a47bf6ee188"), Ops: []string{
		"NetrCharDevEnum", "NetrCharDevGetInfo", "NetrCharDevControl", "NetrCharDevQEnum",
		"NetrCharDevQGetInfo", "NetrCharDevQSetInfo", "NetrCharDevQPurge", "NetrCharDevQPurgeSelf",
		"NetrConnectionEnum", "NetrFileEnum", "NetrFileGetInfo", "NetrFileClose",
		"NetrSessionEnum", "NetrSessionDel", "NetrShareAdd", "NetrShareEnum",
		"NetrShareGetInfo", "NetrShareSetInfo", "NetrShareDel", "NetrShareDelSticky",
		"NetrShareCheck", "NetrServerGetInfo", "NetrServerSetInfo", "NetrServerDiskEnum",
		"NetrServerStatisticsGet", "NetrServerTransportAdd", "NetrServerTransportEnum", "NetrServerTransportDel",
		"NetrRemoteTOD", "", "NetprPathType", "NetprPathCanonicalize",
		"NetprPathCompare", "NetprNameValidate", "NetprNameCanonicalize", "NetprNameCompare",
		"NetrShareEnumSticky", "NetrShareDelStart", "NetrShareDelCommit", "NetrpGetFileSecurity",
		"NetrpSetFileSecurity", "NetrServerTransportAddEx", "", "NetrDfsGetVersion",
		"NetrDfsCreateLocalPartition", "NetrDfsDeleteLocalPartition", "NetrDfsSetLocalVolumeState", "",
		"NetrDfsCreateExitPoint", "NetrDfsDeleteExitPoint", "NetrDfsModifyPrefix", "NetrDfsFixLocalVolume",
		"NetrDfsManagerReportSiteInfo", "NetrServerTransportDelEx", "NetrServerAliasAdd", "NetrServerAliasEnum",
		"NetrServerAliasDel", "NetrShareDelEx",
	}},
	{Name: "netlogon", UUID: MustUUID("12345678-1234-abcd-ef00-01234567cffb"), Ops: sparse(50, map[int]string{
		0: "NetrLogonUasLogon", 1: "NetrLogonUasLogoff", 2: "NetrLogonSamLogon", 3: "NetrLogonSamLogoff",
		4: "NetrServerReqChallenge", 5: "NetrServerAuthenticate", 6: "NetrServerPasswordSet",
		7: "NetrDatabaseDeltas", 8: "NetrDatabaseSync", 9: "NetrAccountDeltas", 10: "NetrAccountSync",
		11: "NetrGetDCName", 12: "NetrLogonControl", 13: "NetrGetAnyDCName", 14: "NetrLogonControl2",
		15: "NetrServerAuthenticate2", 16: "NetrDatabaseSync2", 17: "NetrDatabaseRedo",
		18: "NetrLogonControl2Ex", 19: "NetrEnumerateTrustedDomains", 20: "DsrGetDcName",
		21: "NetrLogonGetCapabilities", 22: "NetrLogonSetServiceBits", 23: "NetrLogonGetTrustRid",
		24: "NetrLogonComputeServerDigest", 25: "NetrLogonComputeClientDigest",
		26: "NetrServerAuthenticate3", 27: "DsrGetDcNameEx", 28: "DsrGetSiteName",
		29: "NetrLogonGetDomainInfo", 30: "NetrServerPasswordSet2", 31: "NetrServerPasswordGet",
		32: "NetrLogonSendToSam", 33: "DsrAddressToSiteNamesW", 34: "DsrGetDcNameEx2",
		35: "NetrLogonGetTimeServiceParentDomain", 36: "NetrEnumerateTrustedDomainsEx",
		37: "DsrAddressToSiteNamesExW", 38: "DsrGetDcSiteCoverageW", 39: "NetrLogonSamLogonEx",
		40: "DsrEnumerateDomainTrusts", 41: "DsrDeregisterDnsHostRecords", 42: "NetrServerTrustPasswordsGet",
		43: "DsrGetForestTrustInformation", 44: "NetrGetForestTrustInformation",
		45: "NetrLogonSamLogonWithFlags", 46: "NetrServerGetTrustInfo",
		48: "DsrUpdateReadOnlyServerDnsRecords", 49: "NetrChainSetClientAttributes",
	})},
	{Name: "epmapper", UUID: MustUUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), Ops: []string{
		"ept_insert", "ept_delete", "ept_lookup", "ept_map", "ept_lookup_handle_free", "ept_inq_object", "ept_mgmt_delete",
	}},
	{Name: "spoolss", UUID: MustUUID("12345678-1234-abcd-ef00-0123456789ab"), Ops: sparse(111, map[int]string{
		0: "RpcEnumPrinters", 1: "RpcOpenPrinter", 2: "RpcSetJob", 3: "RpcGetJob", 4: "RpcEnumJobs",
		5: "RpcAddPrinter", 6: "RpcDeletePrinter", 7: "RpcSetPrinter", 8: "RpcGetPrinter",
		9: "RpcAddPrinterDriver", 10: "RpcEnumPrinterDrivers", 11: "RpcGetPrinterDriver",
		12: "RpcGetPrinterDriverDirectory", 13: "RpcDeletePrinterDriver", 14: "RpcAddPrintProcessor",
		15: "RpcEnumPrintProcessors", 16: "RpcGetPrintProcessorDirectory", 17: "RpcStartDocPrinter",
		18: "RpcStartPagePrinter", 19: "RpcWritePrinter", 20: "RpcEndPagePrinter", 21: "RpcAbortPrinter",
		22: "RpcReadPrinter", 23: "RpcEndDocPrinter", 24: "RpcAddJob", 25: "RpcScheduleJob",
		26: "RpcGetPrinterData", 27: "RpcSetPrinterData", 28: "RpcWaitForPrinterChange",
		29: "RpcClosePrinter", 30: "RpcAddForm", 31: "RpcDeleteForm", 32: "RpcGetForm", 33: "RpcSetForm",
		34: "RpcEnumForms", 35: "RpcEnumPorts", 36: "RpcEnumMonitors", 39: "RpcDeletePort",
		46: "RpcAddMonitor", 47: "RpcDeleteMonitor", 48: "RpcDeletePrintProcessor",
		65: "RpcRemoteFindFirstPrinterChangeNotificationEx", 69: "RpcOpenPrinterEx",
		70: "RpcAddPrinterEx", 72: "RpcEnumPrinterData", 73: "RpcDeletePrinterData",
		77: "RpcSetPrinterDataEx", 78: "RpcGetPrinterDataEx", 89: "RpcAddPrinterDriverEx",
	})},
	{Name: "eventlog", UUID: MustUUID("82273fdc-e32a-18c3-3f78-827929dc23ea"), Ops: []string{
		"ElfrClearELFW", "ElfrBackupELFW", "ElfrCloseEL", "ElfrDeregisterEventSource",
		"ElfrNumberOfRecords", "ElfrOldestRecord", "ElfrChangeNotify", "ElfrOpenELW",
		"ElfrRegisterEventSourceW", "ElfrOpenBELW", "ElfrReadELW", "ElfrReportEventW",
		"ElfrClearELFA", "ElfrBackupELFA", "ElfrOpenELA", "ElfrRegisterEventSourceA",
		"ElfrOpenBELA", "ElfrReadELA", "ElfrReportEventA", "", "", "", "ElfrGetLogInformation",
		"", "ElfrReportEventAndSourceW",
	}},
	{Name: "wkssvc", UUID: MustUUID("6bffd098-a112-3610-9833-46c3f87e345a"), Ops: sparse(31, map[int]string{
		0: "NetrWkstaGetInfo", 1: "NetrWkstaSetInfo", 2: "NetrWkstaUserEnum", 5: "NetrWkstaTransportEnum",
		6: "NetrWkstaTransportAdd", 7: "NetrWkstaTransportDel", 8: "NetrUseAdd", 9: "NetrUseGetInfo",
		10: "NetrUseDel", 11: "NetrUseEnum", 13: "NetrWorkstationStatisticsGet", 20: "NetrGetJoinInformation",
		22: "NetrJoinDomain2", 23: "NetrUnjoinDomain2", 24: "NetrRenameMachineInDomain2",
		25: "NetrValidateName2", 26: "NetrGetJoinableOUs2", 27: "NetrAddAlternateComputerName",
		28: "NetrRemoveAlternateComputerName", 29: "NetrSetPrimaryComputerName", 30: "NetrEnumerateComputerNames",
	})},
	{Name: "efsrpc", UUID: MustUUID("c681d488-d850-11d0-8c52-00c04fd90f7e"), Ops: efsOps},
	{Name: "efsrpc", UUID: MustUUID("df1941c5-fe89-4e79-bf10-463657acf44d"), Ops: efsOps},
	{Name: "dssetup", UUID: MustUUID("3919286a-b10c-11d0-9ba8-00c04fd92ef5"), Ops: []string{"DsRolerGetPrimaryDomainInformation"}},
	{Name: "ISystemActivator", UUID: MustUUID("000001a0-0000-0000-c000-000000000046"), Ops: sparse(6, map[int]string{3: "RemoteGetClassObject", 4: "RemoteCreateInstance"})},
	{Name: "IObjectExporter", UUID: MustUUID("99fcfec4-5260-101b-bbcb-00aa0021347a"), Ops: []string{"ResolveOxid", "SimplePing", "ComplexPing", "ServerAlive", "ResolveOxid2", "ServerAlive2"}},
}

var efsOps = []string{
	"EfsRpcOpenFileRaw", "EfsRpcReadFileRaw", "EfsRpcWriteFileRaw", "EfsRpcCloseRaw",
	"EfsRpcEncryptFileSrv", "EfsRpcDecryptFileSrv", "EfsRpcQueryUsersOnFile", "EfsRpcQueryRecoveryAgents",
	"EfsRpcRemoveUsersFromFile", "EfsRpcAddUsersToFile",
}
