package iface

import (
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{MTU: 9000}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{MTU: 20}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "mtu: must be between 68 and 65535") {
		t.Fatalf("got %v", err)
	}
}
