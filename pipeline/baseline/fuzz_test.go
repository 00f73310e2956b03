package baseline

import (
	"bytes"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the baseline reader: it must return a
// model or an error, never panic, and a model it returns must write and
// read back the same.
func FuzzRead(f *testing.F) {
	m := New(DefaultConfig(), jst, nil)
	learnWeek(m)
	var gz bytes.Buffer
	m.WriteTo(&gz)
	f.Add(gz.Bytes())
	f.Add(gunzip(f, gz.Bytes()))
	f.Add([]byte(`{"format":"mamori-baseline","version":1,"timezone":"Asia/Tokyo","hosts":[{"addr":"10.0.0.1","hours":[[3,4]]}]}`))
	f.Add([]byte(`{"format":"mamori-baseline","version":1,"edges":[{"client":"10.0.0.1","server":"::1","port":1,"proto":6,"hours":[[167,70000]]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{MaxHosts: 1000, MaxEdges: 1000, MaxPeers: 1000, MaxNames: 1000, MaxLinks: 100}
		m, err := Read(bytes.NewReader(data), cfg)
		if err != nil {
			return
		}
		var a, b bytes.Buffer
		if _, err := m.WriteTo(&a); err != nil {
			t.Fatal(err)
		}
		m2, err := Read(bytes.NewReader(a.Bytes()), cfg)
		if err != nil {
			t.Fatalf("a written model does not read back: %v", err)
		}
		m2.WriteTo(&b)
		if !bytes.Equal(gunzip(t, a.Bytes()), gunzip(t, b.Bytes())) {
			t.Fatal("write, read, write differs")
		}
	})
}
