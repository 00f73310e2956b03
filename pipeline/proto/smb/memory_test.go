package smb

import (
	"slices"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto/prototest"
)

// TestMemoryBound feeds hostile streams and checks that what a session
// holds stays within its Config, and that hitting a limit is counted.
func TestMemoryBound(t *testing.T) {
	cfg := Config{MaxMessage: 8 << 10, MaxPipeData: 1024, MaxPending: 32, MaxFiles: 16, MaxTrees: 4, MaxSessions: 4, MaxPipes: 2, MaxRecords: 500, MaxCompound: 16}
	newSess := func(t *testing.T) (*Parser, *session, *int) {
		p := newParser(t, cfg)
		n := new(int)
		s := p.NewSession(prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:445"), func(event.Record) { *n++ }).(*session)
		return p, s, n
	}
	at := prototest.Epoch
	feedAll := func(t *testing.T, s *session, d flow.Dir, b []byte, piece int) {
		for len(b) > 0 {
			n := min(piece, len(b))
			if err := s.Payload(d, at, b[:n]); err != nil {
				t.Fatal(err)
			}
			checkBounds(t, s)
			b = b[n:]
		}
	}

	t.Run("huge declared message", func(t *testing.T) {
		// A 16 MiB NetBIOS message: an SMB2 header then junk forever.
		p, s, _ := newSess(t)
		m := msg2(pdu2{cmd: cmdQueryInfo, msgID: 1, body: make([]byte, 40)})
		m[1], m[2], m[3] = 0xff, 0xff, 0xff
		feedAll(t, s, cli, m, 1460)
		junk := make([]byte, 1<<20)
		for range 16 {
			feedAll(t, s, cli, junk, 64<<10)
		}
		if c := p.Counters(); c.Truncated != 1 {
			t.Fatalf("truncated %d, want 1", c.Truncated)
		}
	})

	t.Run("bulk write is skipped", func(t *testing.T) {
		// A 1 MiB WRITE to a disk file keeps nothing of its data.
		_, s, _ := newSess(t)
		f := fid(1)
		feedAll(t, s, cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 1, body: treeConnectReq(`\\s\d`)}), 1460)
		feedAll(t, s, srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 1, treeID: 1, body: treeConnectResp(1, 0)}), 1460)
		feedAll(t, s, cli, msg2(pdu2{cmd: cmdCreate, msgID: 2, treeID: 1, body: createReq("x", 2, 0, 2)}), 1460)
		feedAll(t, s, srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 2, treeID: 1, body: createResp(2, f, 0, 0x20)}), 1460)
		w := msg2(pdu2{cmd: cmdWrite, msgID: 3, treeID: 1, creditCharge: 16, body: writeReq(f, make([]byte, 1<<20))})
		most := 0
		for len(w) > 0 {
			n := min(1460, len(w))
			if err := s.Payload(cli, at, w[:n]); err != nil {
				t.Fatal(err)
			}
			most = max(most, len(s.dirs[cli].buf))
			w = w[n:]
		}
		if most > decideAt {
			t.Fatalf("buffered %d bytes of a 1 MiB WRITE, want ≤ %d", most, decideAt)
		}
	})

	t.Run("endless requests", func(t *testing.T) {
		p, s, _ := newSess(t)
		for i := range 5000 {
			feedAll(t, s, cli, msg2(pdu2{cmd: cmdCreate, msgID: uint64(i), treeID: 1, body: createReq("f", 1, 0, 1)}), 4096)
		}
		if c := p.Counters(); c.PendingEvicted != 5000-uint64(cfg.MaxPending) {
			t.Fatalf("evicted %d", c.PendingEvicted)
		}
	})

	t.Run("endless opens", func(t *testing.T) {
		p, s, n := newSess(t)
		for i := range 3000 {
			id := [16]byte{byte(i), byte(i >> 8), 1}
			feedAll(t, s, cli, msg2(pdu2{cmd: cmdCreate, msgID: uint64(i), treeID: 1, body: createReq("f", 1, 0, 1)}), 4096)
			feedAll(t, s, srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: uint64(i), treeID: 1, body: createResp(1, id, 0, 0)}), 4096)
		}
		if c := p.Counters(); c.FilesFull == 0 || c.RecordsDropped == 0 || *n != cfg.MaxRecords {
			t.Fatalf("counters %+v, %d records", c, *n)
		}
	})

	t.Run("endless trees sessions and pipes", func(t *testing.T) {
		p, s, _ := newSess(t)
		for i := range 200 {
			tid, ses := uint32(i+1), uint64(i+1)
			feedAll(t, s, cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: uint64(3 * i), sessionID: ses, body: treeConnectReq(`\\s\IPC$`)}), 4096)
			feedAll(t, s, srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: uint64(3 * i), sessionID: ses, treeID: tid, body: treeConnectResp(2, 0)}), 4096)
			feedAll(t, s, srv, transform(ses, 16), 4096)
			id := [16]byte{byte(i), 9}
			feedAll(t, s, cli, msg2(pdu2{cmd: cmdCreate, msgID: uint64(3*i + 1), treeID: tid, body: createReq("svcctl", 1, 0, 1)}), 4096)
			feedAll(t, s, srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: uint64(3*i + 1), treeID: tid, body: createResp(1, id, 0, 0)}), 4096)
			feedAll(t, s, cli, msg2(pdu2{cmd: cmdWrite, msgID: uint64(3*i + 2), treeID: tid, body: writeReq(id, rpcBind(1, "367abb81-9844-35f1-ad32-98f038001003", 2))}), 4096)
		}
		if c := p.Counters(); c.TreesFull == 0 || c.SessionsFull == 0 || c.PipesFull == 0 {
			t.Fatalf("counters %+v", c)
		}
	})

	t.Run("endless compound", func(t *testing.T) {
		_, s, _ := newSess(t)
		var pdus []pdu2
		for range 200 {
			pdus = append(pdus, pdu2{cmd: cmdEcho, body: []byte{4, 0, 0, 0}})
		}
		feedAll(t, s, cli, msg2(pdus...), 4096)
		if !slices.Contains(s.anoms, anomCompound) && !slices.Contains(s.anoms, anomTruncated) {
			t.Fatalf("anomalies %v", s.anoms)
		}
	})

	t.Run("endless rpc calls on a pipe", func(t *testing.T) {
		_, s, _ := newSess(t)
		id := fid(4)
		feedAll(t, s, cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 1, body: treeConnectReq(`\\s\IPC$`)}), 4096)
		feedAll(t, s, srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 1, treeID: 1, body: treeConnectResp(2, 0)}), 4096)
		feedAll(t, s, cli, msg2(pdu2{cmd: cmdCreate, msgID: 2, treeID: 1, body: createReq("svcctl", 1, 0, 1)}), 4096)
		feedAll(t, s, srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 2, treeID: 1, body: createResp(1, id, 0, 0)}), 4096)
		feedAll(t, s, cli, msg2(pdu2{cmd: cmdWrite, msgID: 3, treeID: 1, body: writeReq(id, rpcBind(1, "367abb81-9844-35f1-ad32-98f038001003", 2))}), 4096)
		for i := range 2000 {
			// First fragments of CreateServiceW that never end: stubs held
			// stay bounded by the DCE/RPC limits.
			stub := createServiceW("S", "S", "x")
			feedAll(t, s, cli, msg2(pdu2{cmd: cmdWrite, msgID: uint64(4 + i), treeID: 1, body: writeReq(id, rpcRequest(uint32(2+i), 1, 12, stub))}), 4096)
			f := s.files[fileIDAt(id[:])]
			if f.rpc.Pending() > 64 || f.rpc.Buffered() > cfg.MaxPipeData {
				t.Fatalf("rpc holds %d calls, %d bytes", f.rpc.Pending(), f.rpc.Buffered())
			}
		}
	})
}
