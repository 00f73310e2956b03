package smb

import "strconv"

// SMB2 commands (MS-SMB2 §2.2.1.2).
const (
	cmdNegotiate      = 0x00
	cmdSessionSetup   = 0x01
	cmdLogoff         = 0x02
	cmdTreeConnect    = 0x03
	cmdTreeDisconnect = 0x04
	cmdCreate         = 0x05
	cmdClose          = 0x06
	cmdFlush          = 0x07
	cmdRead           = 0x08
	cmdWrite          = 0x09
	cmdLock           = 0x0A
	cmdIoctl          = 0x0B
	cmdCancel         = 0x0C
	cmdEcho           = 0x0D
	cmdQueryDirectory = 0x0E
	cmdChangeNotify   = 0x0F
	cmdQueryInfo      = 0x10
	cmdSetInfo        = 0x11
	cmdOplockBreak    = 0x12
	numCommands       = 0x13
)

var commandNames = [numCommands]string{
	"negotiate", "session_setup", "logoff", "tree_connect", "tree_disconnect",
	"create", "close", "flush", "read", "write", "lock", "ioctl", "cancel",
	"echo", "query_directory", "change_notify", "query_info", "set_info", "oplock_break",
}

func commandName(c uint16) string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	return "unknown"
}

// dialectName names an SMB2 dialect revision.
func dialectName(d uint16) string {
	switch d {
	case 0x0202:
		return "2.0.2"
	case 0x0210:
		return "2.1"
	case 0x0222:
		return "2.2.2"
	case 0x0224:
		return "2.2.4"
	case 0x0300:
		return "3.0"
	case 0x0302:
		return "3.0.2"
	case 0x0310:
		return "3.1"
	case 0x0311:
		return "3.1.1"
	case 0x02FF:
		return "2.???"
	}
	return "0x" + strconv.FormatUint(uint64(d), 16)
}

// Create dispositions (MS-SMB2 §2.2.13).
var dispositionNames = [...]string{"supersede", "open", "create", "open_if", "overwrite", "overwrite_if"}

func dispositionName(d uint32) string {
	if int(d) < len(dispositionNames) {
		return dispositionNames[d]
	}
	return "unknown"
}

// Create actions (MS-SMB2 §2.2.14).
var createActionNames = [...]string{"superseded", "opened", "created", "overwritten"}

func createActionName(a uint32) string {
	if int(a) < len(createActionNames) {
		return createActionNames[a]
	}
	return "unknown"
}

func shareTypeName(t uint8) string {
	switch t {
	case 1:
		return "disk"
	case 2:
		return "pipe"
	case 3:
		return "print"
	}
	return "unknown"
}

// Access mask bits worth naming (MS-SMB2 §2.2.13.1.1).
var accessBits = []struct {
	bit  uint32
	name string
}{
	{0x00000001, "read"},
	{0x00000002, "write"},
	{0x00000004, "append"},
	{0x00000020, "execute"},
	{0x00010000, "delete"},
	{0x00040000, "write_dac"},
	{0x00080000, "write_owner"},
	{0x02000000, "maximum_allowed"},
	{0x10000000, "generic_all"},
	{0x20000000, "generic_execute"},
	{0x40000000, "generic_write"},
	{0x80000000, "generic_read"},
}

func accessNames(mask uint32) []string {
	var out []string
	for _, a := range accessBits {
		if mask&a.bit != 0 {
			out = append(out, a.name)
		}
	}
	return out
}

// SMB1 commands (MS-CIFS §2.2.2.1) by code.
var smb1Names = map[uint8]string{
	0x00: "create_directory", 0x01: "delete_directory", 0x02: "open", 0x03: "create",
	0x04: "close", 0x05: "flush", 0x06: "delete", 0x07: "rename", 0x08: "query_information",
	0x09: "set_information", 0x0A: "read", 0x0B: "write", 0x0C: "lock_byte_range",
	0x0D: "unlock_byte_range", 0x0E: "create_temporary", 0x0F: "create_new",
	0x10: "check_directory", 0x11: "process_exit", 0x12: "seek", 0x13: "lock_and_read",
	0x14: "write_and_unlock", 0x1A: "read_raw", 0x1D: "write_raw", 0x22: "set_information2",
	0x23: "query_information2", 0x24: "locking_andx", 0x25: "transaction",
	0x26: "transaction_secondary", 0x27: "ioctl", 0x2B: "echo", 0x2C: "write_and_close",
	0x2D: "open_andx", 0x2E: "read_andx", 0x2F: "write_andx", 0x32: "transaction2",
	0x33: "transaction2_secondary", 0x34: "find_close2", 0x70: "tree_connect",
	0x71: "tree_disconnect", 0x72: "negotiate", 0x73: "session_setup_andx", 0x74: "logoff_andx",
	0x75: "tree_connect_andx", 0x80: "query_information_disk", 0x81: "search",
	0xA0: "nt_transact", 0xA1: "nt_transact_secondary", 0xA2: "nt_create_andx",
	0xA4: "nt_cancel", 0xA5: "nt_rename", 0xC0: "open_print_file", 0xFE: "invalid", 0xFF: "no_andx_command",
}

func smb1Name(c uint8) string {
	if n, ok := smb1Names[c]; ok {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}

// TRANSACTION2 subcommands (MS-CIFS §2.2.6).
var trans2Names = [...]string{
	"open2", "find_first2", "find_next2", "query_fs_information", "set_fs_information",
	"query_path_information", "set_path_information", "query_file_information",
	"set_file_information", "fsctl", "ioctl2", "find_notify_first", "find_notify_next",
	"create_directory", "session_setup", "", "get_dfs_referral", "report_dfs_inconsistency",
}

func trans2Name(c uint16) string {
	if int(c) < len(trans2Names) && trans2Names[c] != "" {
		return trans2Names[c]
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}
