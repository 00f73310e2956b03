//go:build !linux

package sensor

import "os"

// useRaw does nothing here: files are read through os.File.
func (c *countingReader) useRaw(*os.File) {}
