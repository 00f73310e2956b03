package smb

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"mamori/internal/testenv"
)

// TestStatusNamesMatchWireshark checks every NTSTATUS name in our table
// against Wireshark's own table (`tshark -G values`, field smb2.nt_status).
func TestStatusNamesMatchWireshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	out, err := exec.Command(tshark, "-G", "values").Output()
	if err != nil {
		t.Fatal(err)
	}
	theirs := map[uint32]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 4 && f[0] == "V" && f[1] == "smb2.nt_status" {
			v, err := strconv.ParseUint(f[2], 10, 32)
			if err == nil {
				theirs[uint32(v)] = f[3]
			}
		}
	}
	if len(theirs) < 100 {
		t.Fatalf("only %d values from tshark", len(theirs))
	}
	for code, name := range ntStatusNames {
		if theirs[code] != name {
			t.Errorf("0x%08X: ours %s, Wireshark's %q", code, name, theirs[code])
		}
	}
	if StatusName(0xC0009999) != "0xC0009999" {
		t.Errorf("unknown code: %s", StatusName(0xC0009999))
	}
}
