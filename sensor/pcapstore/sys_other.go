//go:build !unix

package pcapstore

import (
	"io"
	"os"
)

// lockFile is a no-op where advisory locks are unavailable.
func lockFile(f *os.File, nowait bool) error { return nil }

func unlockFile(f *os.File) error { return nil }

func freeBytes(dir string) int64 { return -1 }

func isDiskFull(err error) bool { return false }

func syncDir(dir string) error { return nil }

func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func() {}, nil
}
