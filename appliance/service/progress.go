package service

import (
	"fmt"
	"io"
	"os"
	"time"

	"mamori/pipeline/worker"
	"mamori/sensor"
)

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws one self-overwriting line: percent of input bytes read,
// packets, rate and flows. A nil *progress draws nothing.
type progress struct {
	w     io.Writer
	src   *sensor.FileSource
	start time.Time
	last  time.Time
	drawn bool
}

func (p *progress) update(c *worker.Counters) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	done, total := p.src.Progress()
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	secs := now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\x1b[K  %5.1f%%  %s packets  %s packets/s  %s MB read", pct, group(c.Packets), group(uint64(float64(c.Packets)/secs)), fmt.Sprintf("%.1f", float64(done)/1e6))
	p.drawn = true
}

func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func clearLine(o ReplayOptions) {
	if o.Progress {
		fmt.Fprint(o.Stderr, "\r\x1b[K")
	}
}

// group writes n with thousands separators.
func group(n uint64) string {
	s := fmt.Sprint(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func printSummary(w io.Writer, r *ReplayResult, s sensor.Stats, wk *worker.Worker) {
	c, f := r.Counters, wk.FlowStats()
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "mamori replay: %d files (%d failed), %s packets, %.1f MB in %.2fs: %s packets/s, %.2f Gbit/s\n",
		s.Files, s.FilesFailed, group(c.Packets), float64(c.Bytes)/1e6, secs,
		group(uint64(float64(c.Packets)/secs)), float64(c.Bytes)*8/secs/1e9)
	fmt.Fprintf(w, "  flows: %s records (%s interim), %s evicted; decode errors: %s (truncated %s, malformed %s, unsupported link %s)\n",
		group(f.Records), group(f.Interim), group(f.Evicted), group(c.DecodeErrors()), group(c.Truncated), group(c.Malformed), group(c.UnsupportedLink))
	if f.FragAttributed+f.FragOrphans > 0 {
		fmt.Fprintf(w, "  fragments: %s attributed to their flow, %s orphaned\n", group(f.FragAttributed), group(f.FragOrphans))
	}
	if !c.First.IsZero() {
		fmt.Fprintf(w, "  packet time: %s .. %s\n", c.First.UTC().Format(time.RFC3339), c.Last.UTC().Format(time.RFC3339))
	}
	if c.MaxBackward >= time.Second {
		fmt.Fprintf(w, "  packet time went back %s times, by up to %v: the capture is out of order (reordercap); flows and alerts may be wrong\n",
			group(c.Backward), c.MaxBackward.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  output: %s (%s records)\n", r.Output, group(r.Records))
}
