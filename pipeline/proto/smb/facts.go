package smb

// The methods below give detectors (rules/smblateral) the facts they read
// from SMB records without importing this package.

// SMBTree is the UNC path and answer status of a tree connect (SMB2
// TREE_CONNECT or SMB1 TREE_CONNECT_ANDX); other records return "".
func (r *Record) SMBTree() (path, status string) {
	if r.Action != "smb2_tree_connect" && r.Action != "smb1_tree_connect_andx" {
		return "", ""
	}
	return r.Share, r.Status
}

// SMBFile describes a file operation: op is "create" (a CREATE that opened
// or created a file), "write" (a file closed after being written),
// "rename" or "delete"; other records return op "".
func (r *Record) SMBFile() (op, share, name, newName string) {
	switch r.Action {
	case "smb2_create", "smb1_nt_create_andx":
		if r.Status != "" && r.Status != "STATUS_SUCCESS" || r.Directory {
			return "", "", "", ""
		}
		op = "create"
	case "smb2_close":
		if r.Writes == 0 {
			return "", "", "", ""
		}
		op = "write"
	case "smb2_rename", "smb1_rename":
		op = "rename"
	case "smb2_delete", "smb1_delete":
		op = "delete"
	default:
		return "", "", "", ""
	}
	return op, r.Share, r.FileName, r.NewName
}

// DCERPC is the named pipe and operation of a DCE/RPC record ("svcctl",
// "CreateServiceW"); operation is "" for a bind. Other records return "".
func (r *Record) DCERPC() (pipe, operation string) {
	if r.RPC == nil {
		return "", ""
	}
	return r.RPC.Pipe, r.RPC.Operation
}
