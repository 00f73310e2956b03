package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// responseDecoder reads bulk responses without reflection. It understands
// the members the per-item policy uses and skips the others; anything it
// does not expect (or cannot parse) is handed to encoding/json, so the
// result is always what encoding/json would give.
type responseDecoder struct{}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// UnmarshalFromReader implements esutil.BulkResponseJSONDecoder.
func (responseDecoder) UnmarshalFromReader(r io.Reader, blk *esutil.BulkIndexerResponse) error {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	return decodeBulk(buf.Bytes(), blk)
}

func decodeBulk(b []byte, blk *esutil.BulkIndexerResponse) error {
	p := parser{b: b}
	var out esutil.BulkIndexerResponse
	if err := p.response(&out); err == nil {
		*blk = out
		return nil
	}
	*blk = esutil.BulkIndexerResponse{}
	return json.Unmarshal(b, blk)
}

var errSyntax = errors.New("unexpected bulk response syntax")

type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) expect(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// rawString returns the bytes of a string without escapes (ok false when
// it has escapes or is malformed).
func (p *parser) rawString() ([]byte, bool) {
	if !p.expect('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, utf8.Valid(s) // encoding/json would replace bad bytes
		case c == '\\' || c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

func (p *parser) str() (string, bool) {
	s, ok := p.rawString()
	return string(s), ok
}

// known are the members decoded; encoding/json matches keys without regard
// to case, so a key equal to one of these but for case is left to it.
var known = []string{"took", "errors", "items", "status", "_index", "_id", "result", "failure_store",
	"_version", "_seq_no", "_primary_term", "error", "type", "reason", "caused_by", "_shards", "total", "successful", "failed"}

func oddCase(k []byte) bool {
	for _, w := range known {
		if len(w) == len(k) && string(k) != w && bytes.EqualFold(k, []byte(w)) {
			return true
		}
	}
	return false
}

// object calls member for each key; member must consume the value.
func (p *parser) object(member func(key []byte) bool) bool {
	if !p.expect('{') {
		return false
	}
	if p.expect('}') {
		return true
	}
	for {
		k, ok := p.rawString()
		if !ok || oddCase(k) || !p.expect(':') || !member(k) {
			return false
		}
		if p.expect(',') {
			continue
		}
		return p.expect('}')
	}
}

func (p *parser) skip() bool {
	switch p.peek() {
	case '{':
		return p.object(func([]byte) bool { return p.skip() })
	case '[':
		p.i++
		if p.expect(']') {
			return true
		}
		for {
			if !p.skip() {
				return false
			}
			if p.expect(',') {
				continue
			}
			return p.expect(']')
		}
	case '"':
		_, ok := p.rawString()
		return ok
	case 0:
		return false
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
			p.i += len(lit)
			return true
		}
	}
	start := p.i
	for p.i < len(p.b) && bytes.IndexByte([]byte("-+.0123456789eE"), p.b[p.i]) >= 0 {
		p.i++
	}
	return p.i > start && json.Valid(p.b[start:p.i])
}

func (p *parser) integer() (int64, bool) {
	p.ws()
	start := p.i
	for p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] >= '0' && p.b[p.i] <= '9') {
		p.i++
	}
	if !json.Valid(p.b[start:p.i]) {
		return 0, false // "01", "-": not JSON numbers
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return n, err == nil
}

func (p *parser) boolean() (bool, bool) {
	p.ws()
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return true, true
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return false, true
	}
	return false, false
}

// nullable reads a string or null.
func (p *parser) nullable() (string, bool) {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return "", true
	}
	return p.str()
}

func (p *parser) response(out *esutil.BulkIndexerResponse) error {
	ok := p.object(func(k []byte) bool {
		switch string(k) {
		case "took":
			n, ok := p.integer()
			out.Took = int(n)
			return ok
		case "errors":
			v, ok := p.boolean()
			out.HasErrors = v
			return ok
		case "items":
			return p.items(out)
		}
		return p.skip()
	})
	p.ws()
	if !ok || p.i != len(p.b) {
		return errSyntax
	}
	return nil
}

func (p *parser) items(out *esutil.BulkIndexerResponse) bool {
	if !p.expect('[') {
		return false
	}
	out.Items = make([]map[string]esutil.BulkIndexerResponseItem, 0, 64) // [] is empty, not nil
	if p.expect(']') {
		return true
	}
	// Items alike (all "create" 201 without more, with the filter_path the
	// output sends) share one map: BulkIndexer only reads them, and a map
	// per item was most of the decoding time.
	var (
		prevOp  string
		prevIt  esutil.BulkIndexerResponseItem
		prevMap map[string]esutil.BulkIndexerResponseItem
	)
	for {
		var (
			m     map[string]esutil.BulkIndexerResponseItem
			first esutil.BulkIndexerResponseItem
			n     int
		)
		ok := p.object(func(op []byte) bool {
			var it esutil.BulkIndexerResponseItem
			if !p.item(&it) {
				return false
			}
			n++
			switch {
			case n == 1 && prevMap != nil && string(op) == prevOp && it == prevIt:
				m = prevMap
			case n == 1:
				m = map[string]esutil.BulkIndexerResponseItem{string(op): it}
			default:
				if n == 2 {
					m = maps.Clone(m) // not the shared one
				}
				m[string(op)] = it
			}
			first = it
			return true
		})
		if !ok {
			return false
		}
		if m == nil {
			m = map[string]esutil.BulkIndexerResponseItem{}
		}
		if n == 1 && len(m) == 1 {
			for op := range m {
				prevOp, prevIt, prevMap = op, first, m
			}
		} else {
			prevMap = nil
		}
		out.Items = append(out.Items, m)
		if p.expect(',') {
			continue
		}
		return p.expect(']')
	}
}

func (p *parser) item(it *esutil.BulkIndexerResponseItem) bool {
	p.ws()
	return p.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "status":
			var n int64
			n, ok = p.integer()
			it.Status = int(n)
		case "_index":
			it.Index, ok = p.str()
		case "_id":
			p.ws()
			it.DocumentID, ok = p.nullable()
		case "result":
			it.Result, ok = p.str()
		case "failure_store":
			it.FailureStore, ok = p.str()
		case "_version":
			it.Version, ok = p.integer()
		case "_seq_no":
			it.SeqNo, ok = p.integer()
		case "_primary_term":
			it.PrimTerm, ok = p.integer()
		case "error":
			ok = p.object(func(k []byte) bool {
				switch string(k) {
				case "type":
					var v bool
					it.Error.Type, v = p.str()
					return v
				case "reason":
					var v bool
					p.ws()
					it.Error.Reason, v = p.nullable()
					return v
				case "caused_by":
					return p.object(func(k []byte) bool {
						var v bool
						switch string(k) {
						case "type":
							it.Error.Cause.Type, v = p.str()
						case "reason":
							p.ws()
							it.Error.Cause.Reason, v = p.nullable()
						default:
							v = p.skip()
						}
						return v
					})
				}
				return p.skip()
			})
		case "_shards":
			ok = p.object(func(k []byte) bool {
				n, v := p.integer()
				switch string(k) {
				case "total":
					it.Shards.Total = int(n)
				case "successful":
					it.Shards.Successful = int(n)
				case "failed":
					it.Shards.Failed = int(n)
				}
				return v
			})
		default:
			ok = p.skip()
		}
		return ok
	})
}
