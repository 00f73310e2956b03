package dicom

import (
	"bytes"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// storeSession returns a session with an accepted association, ready for
// C-STOREs on context 3.
func storeSession(tb testing.TB) *Session {
	p := newParser(tb, Config{})
	s := p.NewSession(prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:104"), func(event.Record) {}).(*Session)
	at := prototest.Epoch
	s.Payload(cl, at, associate(pduAssociateRQ, "PACS", "CT01", appContext(), pctxRQ(3, uidCTStorage, tsExplicit)))
	s.Payload(sv, at, associate(pduAssociateAC, "PACS", "CT01", appContext(), pctxAC(3, 0, tsExplicit)))
	return s
}

// imagePDUs is a 1 MiB data set in 16 KiB P-DATA-TF PDUs, as a modality
// sends an image.
func imagePDUs() []byte {
	var b []byte
	chunk := bytes.Repeat([]byte{0x42}, 16384-6)
	for i := 0; i < 64; i++ {
		flags := byte(0)
		if i == 63 {
			flags = pdvLast
		}
		b = append(b, pdata(pdv(3, flags, chunk))...)
	}
	return b
}

// TestDataPathAllocs: data set PDVs, the bulk of DICOM traffic, are
// counted without allocating.
func TestDataPathAllocs(t *testing.T) {
	s := storeSession(t)
	s.Payload(cl, prototest.Epoch, pdata(pdv(3, pdvCommand|pdvLast, request(cmdCStoreRQ, 1, uidCTStorage, hasDataSet))))
	img := imagePDUs()
	allocs := testing.AllocsPerRun(20, func() {
		for i := 0; i < len(img); i += 1448 { // TCP-segment-sized chunks
			if err := s.Payload(cl, prototest.Epoch, img[i:min(i+1448, len(img))]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per 1 MiB image", allocs)
	}
}

// BenchmarkStore measures a C-STORE of a 1 MiB image in 1448-byte chunks,
// with its command and response.
func BenchmarkStore(b *testing.B) {
	s := storeSession(b)
	img := imagePDUs()
	rsp := pdata(pdv(3, pdvCommand|pdvLast, response(cmdCStoreRQ, 1, uidCTStorage, 0, noDataSet)))
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Payload(cl, prototest.Epoch, pdata(pdv(3, pdvCommand|pdvLast, request(cmdCStoreRQ, uint16(i), uidCTStorage, hasDataSet))))
		for j := 0; j < len(img); j += 1448 {
			s.Payload(cl, prototest.Epoch, img[j:min(j+1448, len(img))])
		}
		binaryPut16(rsp, uint16(i))
		s.Payload(sv, prototest.Epoch, rsp)
	}
}

// binaryPut16 patches the Message ID Being Responded To of a response
// built by response() (the third element).
func binaryPut16(rsp []byte, id uint16) {
	i := bytes.Index(rsp, []byte{0, 0, 0x20, 0x01, 2, 0, 0, 0})
	rsp[i+8], rsp[i+9] = byte(id), byte(id>>8)
}
