package archtest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"mamori/internal/testenv"
)

type pkg struct {
	ImportPath string
	Imports    []string
	GoFiles    []string
	Dir        string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = testenv.ModuleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 8 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	return pkgs
}

// rule forbids packages under From (a path prefix) to import packages under
// any of Deny, with the reason.
type rule struct {
	from, why string
	deny      []string
	allow     []string // exceptions to deny
}

var rules = []rule{
	{from: "mamori/pipeline/event", deny: []string{"mamori/"}, why: "events are the shared vocabulary: they import nothing of ours"},
	{from: "mamori/sensor", deny: []string{"mamori/pipeline", "mamori/rules", "mamori/appliance"}, why: "sensor knows nothing of the pipeline"},
	{from: "mamori/pipeline", deny: []string{"mamori/rules", "mamori/appliance"}, why: "the pipeline knows nothing of rules or the appliance"},
	{from: "mamori/pipeline/decode", deny: []string{"mamori/pipeline/flow", "mamori/pipeline/proto", "mamori/pipeline/output"}, why: "decode is below flows"},
	{from: "mamori/pipeline/flow", deny: []string{"mamori/pipeline/proto", "mamori/pipeline/baseline", "mamori/pipeline/output", "mamori/sensor"}, why: "flows are below parsers and outputs"},
	{from: "mamori/pipeline/output", deny: []string{"mamori/pipeline/flow", "mamori/pipeline/proto", "mamori/sensor", "mamori/pipeline/worker"}, why: "outputs see records only"},
	{from: "mamori/pipeline/worker", deny: []string{"mamori/pipeline/output"}, why: "a worker hands records to a function; outputs are wired by the appliance"},
	{from: "mamori/rules", deny: []string{"mamori/sensor", "mamori/pipeline/flow", "mamori/pipeline/proto", "mamori/pipeline/output", "mamori/appliance"}, why: "rules see records and the baseline view only"},
	{from: "mamori/cmd/", deny: []string{"mamori/"}, allow: []string{"mamori/appliance"}, why: "cmd stays a thin main over appliance"},
}

func under(path, prefix string) bool {
	return path == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(path, strings.TrimSuffix(prefix, "/")+"/")
}

// testHelper reports whether path is a test-helper package kept beside the
// code it tests (pipeline/proto/prototest, rules/rulestest), which only
// _test.go files may import, like net/http/httptest.
func testHelper(path string) bool {
	return strings.HasPrefix(path, "mamori/") && strings.HasSuffix(path[strings.LastIndex(path, "/")+1:], "test")
}

// TestImportRules checks every package's non-test imports against rules.
func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if (imp == "testing" || under(imp, "mamori/internal") || testHelper(imp)) && !under(p.ImportPath, "mamori/internal") && !testHelper(p.ImportPath) {
				t.Errorf("%s imports %s outside tests: test helpers stay in _test.go files", p.ImportPath, imp)
			}
			for _, r := range rules {
				if !under(p.ImportPath, r.from) {
					continue
				}
				denied := false
				for _, d := range r.deny {
					if under(imp, d) || (strings.HasSuffix(d, "/") && strings.HasPrefix(imp, d)) {
						denied = true
					}
				}
				for _, a := range r.allow {
					if under(imp, a) {
						denied = false
					}
				}
				if denied {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
				}
			}
		}
	}
}

// TestPacketTimeOnly checks that pipeline/ and rules/ never read the wall
// clock: every timeout runs on packet time so that replay equals live.
func TestPacketTimeOnly(t *testing.T) {
	root := testenv.ModuleRoot(t)
	for _, p := range listPackages(t) {
		if !under(p.ImportPath, "mamori/pipeline") && !under(p.ImportPath, "mamori/rules") {
			continue
		}
		for _, f := range p.GoFiles {
			forEachCall(t, filepath.Join(p.Dir, f), func(fset *token.FileSet, call *ast.CallExpr) {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Tick" || sel.Sel.Name == "NewTicker") {
						rel, _ := filepath.Rel(root, fset.Position(call.Pos()).Filename)
						t.Errorf("%s:%d: time.%s in the pipeline: use packet time", rel, fset.Position(call.Pos()).Line, sel.Sel.Name)
					}
				}
			})
		}
	}
}

// TestErrorStrings checks that error messages start lowercase and do not end
// with punctuation (STYLE.md §2.6).
func TestErrorStrings(t *testing.T) {
	root := testenv.ModuleRoot(t)
	checked := 0
	for _, p := range listPackages(t) {
		for _, f := range p.GoFiles {
			forEachCall(t, filepath.Join(p.Dir, f), func(fset *token.FileSet, call *ast.CallExpr) {
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || len(call.Args) == 0 {
					return
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok || !((id.Name == "errors" && sel.Sel.Name == "New") || (id.Name == "fmt" && sel.Sel.Name == "Errorf")) {
					return
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || s == "" {
					return
				}
				checked++
				first := []rune(s)[0]
				pos := fset.Position(lit.Pos())
				rel, _ := filepath.Rel(root, pos.Filename)
				if unicode.IsUpper(first) && !startsWithAcronym(s) {
					t.Errorf("%s:%d: error string %q starts with a capital", rel, pos.Line, s)
				}
				if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "\n") {
					t.Errorf("%s:%d: error string %q ends with punctuation", rel, pos.Line, s)
				}
				if strings.HasPrefix(strings.ToLower(s), "failed to") || strings.HasPrefix(strings.ToLower(s), "error ") {
					t.Errorf("%s:%d: error string %q: say what was being done, not that it failed", rel, pos.Line, s)
				}
			})
		}
	}
	if checked < 10 {
		t.Fatalf("only %d error strings found: the walk is broken", checked)
	}
}

// startsWithAcronym allows messages that begin with a name such as "TCP" or "ERSPAN".
func startsWithAcronym(s string) bool {
	word, _, _ := strings.Cut(s, " ")
	return len(word) > 1 && strings.ToUpper(word) == word
}

func forEachCall(t *testing.T, path string, fn func(*token.FileSet, *ast.CallExpr)) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			fn(fset, c)
		}
		return true
	})
}
