package pcapstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mamori/sensor"
)

// Import appends every packet of the capture files (pcap or pcapng, gzip
// too; several are merged in time order) to the store w writes. Problems
// with one input are returned joined after the others were read; the
// packets read before a damaged record are kept.
func Import(ctx context.Context, w *Writer, files []string) (packets uint64, err error) {
	src, err := sensor.OpenFiles(files)
	if err != nil {
		return 0, fmt.Errorf("pcapstore: import: %w", err)
	}
	defer src.Close()
	var errs []error
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			var fe *sensor.FileError
			if errors.As(err, &fe) {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, err)
			break
		}
		if err := w.Append(data, ci, src.LinkType(ci.InterfaceIndex)); err != nil {
			return packets, fmt.Errorf("pcapstore: import: %w", err)
		}
		packets++
		if packets&0xffff == 0 && ctx.Err() != nil {
			return packets, ctx.Err()
		}
	}
	if len(errs) > 0 {
		return packets, fmt.Errorf("pcapstore: import: %w", errors.Join(errs...))
	}
	return packets, nil
}
