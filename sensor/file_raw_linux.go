package sensor

import (
	"os"
	"syscall"
	"unsafe"
)

// useRaw makes c read f with direct read(2) calls when f is a regular
// file (see countingReader).
func (c *countingReader) useRaw(f *os.File) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return
	}
	c.raw, c.name = raw, f.Name()
	c.fn = func(fd uintptr) bool {
		for {
			n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.buf))), uintptr(len(c.buf)))
			if e != syscall.EINTR {
				c.got, c.errn = int(n), e
				return true
			}
		}
	}
}
