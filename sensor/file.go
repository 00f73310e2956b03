package sensor

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const (
	// maxCaptureLength is the longest packet record a file may hold:
	// libpcap's MAXIMUM_SNAPLEN, also Wireshark's limit for Ethernet. A
	// longer record is treated as corruption instead of being read into
	// memory.
	maxCaptureLength = 262144
	// readBufferSize is the read-ahead of each input file (and, for gzip,
	// of its decompressed stream). Every input is open at once while files
	// are merged, so this is paid per file. 256 KiB keeps the buffer in a
	// core's L2 cache next to the flow table and the output buffer: the
	// packets are read where read(2) has just written them. Replaying a
	// 600 MB capture took 20% less CPU time than with 1 MiB (measured on
	// an AMD EPYC with 1 MiB of L2 per core; 32 to 256 KiB did equally).
	readBufferSize = 256 << 10
	// maxFileInterfaces bounds the interfaces one pcapng file may declare,
	// so a corrupt file cannot grow the interface table without limit.
	maxFileInterfaces = 1 << 16
)

// Magic numbers recognised at the start of a (decompressed) file, read
// big-endian from the first four bytes.
const (
	magicPcapMicroLE = 0xd4c3b2a1
	magicPcapMicroBE = 0xa1b2c3d4
	magicPcapNanoLE  = 0x4d3cb2a1
	magicPcapNanoBE  = 0xa1b23c4d
	magicPcapng      = 0x0a0d0d0a
)

// FileSource replays capture files as a Source. It is created by OpenFiles.
//
// A FileSource is not safe for concurrent use, except Close and Progress,
// which may be called from any goroutine.
type FileSource struct {
	files  []*captureFile // every file opened, in argument order; fixed after OpenFiles
	heap   []*captureFile // files holding an unreturned packet, earliest first
	total  int64          // summed size of files; fixed after OpenFiles
	ifaces []fileInterface

	// pending holds open errors not yet returned, in argument order.
	pending []error
	// consumed reports that heap[0]'s packet has been returned, so the next
	// read must first advance that file.
	consumed bool

	stats     Stats
	posFile   string
	posPacket int

	closed atomic.Bool
	mu     sync.Mutex // guards captureFile.closed and closing the files
}

var _ Source = (*FileSource)(nil)

// fileInterface is one entry of the global interface table.
type fileInterface struct {
	linkType layers.LinkType
	name     string
}

// packetReader reads the packets of one capture file in file order.
type packetReader interface {
	// next returns the next packet, with InterfaceIndex already global. The
	// data is valid until the next call. It returns io.EOF at a clean end of
	// the file and any other error when the file cannot be read further.
	next() (data []byte, ci gopacket.CaptureInfo, err error)
}

// captureFile is one input and its next packet (its head).
type captureFile struct {
	path   string
	name   string // base name, for Interface
	order  int    // position among the paths, breaks timestamp ties
	f      *os.File
	in     countingReader
	size   int64
	rd     packetReader
	pcap   *pcapReader // rd, when the file is classic pcap
	ifaces int         // interfaces this file has declared
	closed bool        // guarded by FileSource.mu

	data []byte
	ci   gopacket.CaptureInfo
	n    int // 1-based index of the head packet within the file
}

// countingReader counts the bytes read from a file, for Progress.
//
// On Linux a regular file is read with read(2) made directly rather than
// through os.File.Read, which tells the Go scheduler that the goroutine
// is in a system call: a read of a read buffer's worth from the page
// cache lasts long enough (tens of µs) that the runtime's monitor takes
// the goroutine's P away and keeps waking every 20 µs to check again,
// which cost a replay on one core 9% of its CPU time in thread switches.
// A regular file's read never waits for anything that may not come, so
// holding the P through it is safe; pipes and other files keep the
// scheduler's way.
type countingReader struct {
	r   io.Reader
	n   atomic.Int64
	raw syscall.RawConn // set for a regular file (useRaw, on Linux)

	// The raw read's callback and its arguments and results, in fields
	// so that the callback is made once.
	name string
	buf  []byte
	got  int
	errn syscall.Errno
	fn   func(fd uintptr) bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.raw == nil || len(p) == 0 {
		n, err := c.r.Read(p)
		c.n.Add(int64(n))
		return n, err
	}
	// RawConn.Read holds the file open during the call, so a concurrent
	// Close cannot let the descriptor be reused under the read.
	c.buf = p
	err := c.raw.Read(c.fn)
	c.buf = nil
	switch {
	case err != nil:
		return 0, err
	case c.errn != 0:
		return 0, &os.PathError{Op: "read", Path: c.name, Err: c.errn}
	case c.got == 0:
		return 0, io.EOF
	}
	c.n.Add(int64(c.got))
	return c.got, nil
}

// OpenFiles opens capture files for replay as one Source.
//
// Each file may be classic pcap (microsecond or nanosecond timestamps,
// either byte order) or pcapng, optionally gzip-compressed; the format is
// recognised from the content, never the name. With several files, packets
// are merged in timestamp order, ties going to the file listed first; the
// packets of one file keep their file order even where its timestamps go
// backwards. Every file stays open until it is exhausted or Close is called.
//
// Interface indices are global: a classic pcap file declares one interface,
// a pcapng file one per Interface Description Block, numbered in the order
// they are read (with all descriptions before the first packet, as usual,
// file k's interfaces follow file k-1's). Interface names the first
// interface of a file by the file's base name and the n-th after it (n >= 1,
// counting across pcapng sections) as "base#n", whatever name the file
// records. A Simple Packet Block carries no timestamp: it is given the
// timestamp of the file's previous packet, or the zero time.
//
// A file that cannot be opened or whose header cannot be read does not make
// OpenFiles fail. It is recorded as a *FileError with Packet 0, and the
// first calls to ZeroCopyReadPacketData return these errors, one per call
// and in argument order, before any packet; a file that breaks at its first
// packet is reported the same way with Packet 1. OpenFiles fails only when
// no file could be opened; its error then joins (errors.Join) one *FileError
// per path, so printing it prints one "FILE: reason" line per file.
func OpenFiles(paths []string) (*FileSource, error) {
	if len(paths) == 0 {
		return nil, errors.New("opening capture files: no files given")
	}
	s := &FileSource{}
	var failed []error
	for i, path := range paths {
		cf, err := s.open(path, i)
		if err != nil {
			fe := &FileError{File: path, Err: err}
			failed = append(failed, fe)
			s.pending = append(s.pending, fe)
			s.stats.FilesFailed++
			continue
		}
		s.files = append(s.files, cf)
		s.total += cf.size
		s.stats.Files++
		switch err := s.fill(cf); {
		case err == nil:
			s.push(cf)
		case err == io.EOF:
			s.finish(cf)
		default:
			s.finish(cf)
			s.pending = append(s.pending, &FileError{File: path, Packet: cf.n, Err: err})
			s.stats.FilesFailed++
		}
	}
	if len(s.files) == 0 {
		return nil, errors.Join(failed...)
	}
	return s, nil
}

// open opens one file, recognises its format and reads its header. The
// error does not name the file: the caller wraps it in a FileError.
func (s *FileSource) open(path string, order int) (*captureFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening file: %w", unwrapPath(err))
	}
	cf := &captureFile{path: path, name: filepath.Base(path), order: order, f: f}
	cf.in.r = f
	cf.in.useRaw(f)
	if err := s.openReader(cf); err != nil {
		f.Close()
		return nil, err
	}
	return cf, nil
}

func (s *FileSource) openReader(cf *captureFile) error {
	fi, err := cf.f.Stat()
	if err != nil {
		return fmt.Errorf("reading file: %w", unwrapPath(err))
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	cf.size = fi.Size()

	// Small files get small buffers: opening many costs less.
	bufSize := int(min(max(cf.size, 4096), readBufferSize))
	var src io.Reader = &cf.in
	br := bufio.NewReaderSize(src, bufSize)
	compressed := false
	magic, err := br.Peek(2)
	switch {
	case len(magic) == 0 && err == io.EOF:
		return errors.New("empty file")
	case err != nil && err != io.EOF:
		return fmt.Errorf("reading file: %w", unwrapPath(err))
	case len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading gzip header: %w", err)
		}
		src, bufSize = gz, min(8*bufSize, readBufferSize)
		br = bufio.NewReaderSize(src, bufSize)
		compressed = true
	}

	head, err := br.Peek(4)
	switch {
	case len(head) == 0 && err == io.EOF && compressed:
		return errors.New("empty gzip stream")
	case err != nil && err != io.EOF && compressed:
		return fmt.Errorf("reading gzip stream: %w", err)
	case err != nil && err != io.EOF:
		return fmt.Errorf("reading file: %w", unwrapPath(err))
	case len(head) < 4:
		return fmt.Errorf("not a pcap or pcapng file: only %d bytes", len(head))
	}

	register := func(lt layers.LinkType) (int, error) { return s.addInterface(cf, lt) }
	switch m := binary.BigEndian.Uint32(head); m {
	case magicPcapMicroLE, magicPcapMicroBE, magicPcapNanoLE, magicPcapNanoBE:
		cf.pcap, err = newPcapReader(br, src, bufSize, register)
		cf.rd = cf.pcap
	case magicPcapng:
		cf.rd, err = newNgReader(br, register)
	default:
		return fmt.Errorf("not a pcap or pcapng file (magic 0x%08x)", m)
	}
	return err
}

// unwrapPath drops the *fs.PathError around err: the FileError around it
// names the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// addInterface gives the next interface of cf a global index.
func (s *FileSource) addInterface(cf *captureFile, lt layers.LinkType) (int, error) {
	if cf.ifaces >= maxFileInterfaces {
		return 0, fmt.Errorf("more than %d interfaces", maxFileInterfaces)
	}
	name := cf.name
	if cf.ifaces > 0 {
		name += "#" + strconv.Itoa(cf.ifaces)
	}
	cf.ifaces++
	s.ifaces = append(s.ifaces, fileInterface{linkType: lt, name: name})
	return len(s.ifaces) - 1, nil
}

// ZeroCopyReadPacketData returns the next packet in timestamp order. The
// data is owned by the FileSource and valid until the next call.
//
// It first returns the errors recorded by OpenFiles, one per call. A
// *FileError then means that file was dropped at the packet it names; the
// next call continues with the other files. It returns io.EOF once every
// file is exhausted, and after Close.
func (s *FileSource) ZeroCopyReadPacketData() (data []byte, ci gopacket.CaptureInfo, err error) {
	data, ref, err := s.ReadPacketInfo()
	if err != nil {
		return nil, ci, err
	}
	return data, *ref, nil
}

// ReadPacketInfo is ZeroCopyReadPacketData returning the capture info by
// reference: like the data, it is valid until the next call, and the
// caller must not change it. The worker reads packets through it: a
// CaptureInfo returned by value is copied on every packet, right after
// it was written, which the CPU does slowly.
func (s *FileSource) ReadPacketInfo() ([]byte, *gopacket.CaptureInfo, error) {
	if s.closed.Load() {
		return nil, nil, io.EOF
	}
	if len(s.pending) > 0 {
		err := s.pending[0]
		s.pending[0] = nil
		s.pending = s.pending[1:]
		return nil, nil, err
	}
	if s.consumed {
		s.consumed = false
		if err := s.advance(); err != nil {
			return nil, nil, err
		}
	}
	if len(s.heap) == 0 {
		return nil, nil, io.EOF
	}
	cf := s.heap[0]
	s.consumed = true
	s.stats.Packets++
	s.stats.Bytes += uint64(len(cf.data))
	s.posFile, s.posPacket = cf.path, cf.n
	return cf.data, &cf.ci, nil
}

// fill reads the next packet of cf into its head.
func (s *FileSource) fill(cf *captureFile) error {
	cf.n++
	if cf.pcap != nil {
		// Classic pcap, the common case, without the interface call and
		// the copies of CaptureInfo.
		data, err := cf.pcap.nextInto(&cf.ci)
		cf.data = data
		return err
	}
	data, ci, err := cf.rd.next()
	if err != nil {
		cf.data = nil
		return err
	}
	cf.data, cf.ci = data, ci
	return nil
}

// advance replaces the head of heap[0], which was returned last, with the
// file's next packet and restores the heap order. A file that ends or
// breaks leaves the heap; a break is returned as a *FileError.
func (s *FileSource) advance() error {
	cf := s.heap[0]
	err := s.fill(cf)
	if err == nil {
		s.down(0)
		return nil
	}
	last := len(s.heap) - 1
	s.heap[0] = s.heap[last]
	s.heap[last] = nil
	s.heap = s.heap[:last]
	if last > 0 {
		s.down(0)
	}
	s.finish(cf)
	if s.closed.Load() {
		// A read that failed because Close was called is the end, not a
		// broken file.
		return io.EOF
	}
	if err == io.EOF {
		return nil
	}
	s.stats.FilesFailed++
	return &FileError{File: cf.path, Packet: cf.n, Err: err}
}

// finish closes a file that has no more packets and releases its buffers.
func (s *FileSource) finish(cf *captureFile) {
	cf.in.n.Store(cf.size)
	cf.rd, cf.pcap = nil, nil
	cf.data = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if !cf.closed {
		cf.closed = true
		cf.f.Close() // read-only: nothing to lose
	}
}

// before orders heads by timestamp, then by file order.
func before(a, b *captureFile) bool {
	if c := a.ci.Timestamp.Compare(b.ci.Timestamp); c != 0 {
		return c < 0
	}
	return a.order < b.order
}

func (s *FileSource) push(cf *captureFile) {
	s.heap = append(s.heap, cf)
	for i := len(s.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !before(s.heap[i], s.heap[p]) {
			break
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *FileSource) down(i int) {
	h := s.heap
	for {
		m := i
		if l := 2*i + 1; l < len(h) && before(h[l], h[m]) {
			m = l
		}
		if r := 2*i + 2; r < len(h) && before(h[r], h[m]) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// LinkType returns the link type of global interface ifIndex, or
// layers.LinkTypeNull for an index no file has declared.
func (s *FileSource) LinkType(ifIndex int) layers.LinkType {
	if ifIndex < 0 || ifIndex >= len(s.ifaces) {
		return layers.LinkTypeNull
	}
	return s.ifaces[ifIndex].linkType
}

// Interface names global interface ifIndex: the base name of its file, with
// "#n" appended for the n-th interface of a pcapng file after its first. It
// returns "" for an index no file has declared.
func (s *FileSource) Interface(ifIndex int) string {
	if ifIndex < 0 || ifIndex >= len(s.ifaces) {
		return ""
	}
	return s.ifaces[ifIndex].name
}

// Stats reports the packets and captured bytes returned so far, the files
// opened (Files) and the files that could not be opened or stopped early
// (FilesFailed; a file that opened and then broke counts in both).
func (s *FileSource) Stats() Stats {
	return s.stats
}

// Position names the packet last returned: its file, as given to OpenFiles,
// and its 1-based index within that file. Before the first packet it
// returns "", 0.
func (s *FileSource) Position() (file string, packet int) {
	return s.posFile, s.posPacket
}

// Progress reports how far the input has been read, in bytes of the files as
// stored (compressed bytes for gzip): done counts bytes read so far plus the
// whole of every finished file, total the size of every file opened. Read
// buffering makes done run up to a buffer ahead of the packets returned. It
// is cheap and safe to call from any goroutine.
func (s *FileSource) Progress() (done, total int64) {
	for _, cf := range s.files {
		done += min(cf.in.n.Load(), cf.size)
	}
	return done, s.total
}

// Close closes every file. Reads after Close, and a read in flight in
// another goroutine, return io.EOF. Close is idempotent and safe to call
// from any goroutine.
func (s *FileSource) Close() error {
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, cf := range s.files {
		if cf.closed {
			continue
		}
		cf.closed = true
		if err := cf.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
