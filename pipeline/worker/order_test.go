package worker

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/sensor"
)

// TestBackwardTimeReported writes a real capture out of order (its second
// half first, as a tool that writes one conversation after another would)
// and checks that the step back is counted, reported once with the file
// and packet, and in the summary; the capture in order reports nothing.
func TestBackwardTimeReported(t *testing.T) {
	frames, infos, link, err := pcaptest.ReadAll(testenv.Pcap(t, "recorded/benign_smb_rdp.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	half := len(frames) / 2
	span := infos[len(infos)-1].Timestamp.Sub(infos[0].Timestamp)
	if span < 2*backwardReport {
		t.Fatalf("capture spans only %v", span)
	}
	run := func(frames [][]byte, infos []gopacket.CaptureInfo) (Counters, []error, *event.Metric) {
		path := filepath.Join(t.TempDir(), "x.pcap")
		if err := pcaptest.WritePcap(path, link, frames, infos); err != nil {
			t.Fatal(err)
		}
		src, err := sensor.OpenFiles([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		w, err := New(Config{DeterministicIDs: true}, src, func(event.Record) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		var reports []error
		if err := w.Run(context.Background(), func(err error) { reports = append(reports, err) }, nil); err != nil {
			t.Fatal(err)
		}
		return w.Counters(), reports, w.Summary("replay_summary")
	}

	c, reports, _ := run(frames, infos)
	if c.Backward != 0 || len(reports) != 0 {
		t.Fatalf("in order: %d steps back, reports %v", c.Backward, reports)
	}

	swapped := append(append([][]byte{}, frames[half:]...), frames[:half]...)
	swappedInfo := append(append([]gopacket.CaptureInfo{}, infos[half:]...), infos[:half]...)
	c, reports, m := run(swapped, swappedInfo)
	want := infos[len(infos)-1].Timestamp.Sub(infos[0].Timestamp)
	if c.Backward == 0 || c.MaxBackward != want {
		t.Errorf("out of order: %d steps back, max %v; want ≥ 1, max %v", c.Backward, c.MaxBackward, want)
	}
	if len(reports) != 1 {
		t.Fatalf("reports: %v", reports)
	}
	var fe *sensor.FileError
	if !errors.As(reports[0], &fe) || fe.Packet != len(frames)-half+1 || !strings.Contains(fe.Error(), "not in time order") {
		t.Errorf("report %v; want packet %d", reports[0], len(frames)-half+1)
	}
	var got uint64
	for _, g := range m.Groups {
		for _, v := range g.Values {
			if g.Name == "decode" && v.Name == "time_backward" {
				got = v.Value
			}
		}
	}
	if got != c.Backward {
		t.Errorf("summary time_backward %d, counters %d", got, c.Backward)
	}
}
