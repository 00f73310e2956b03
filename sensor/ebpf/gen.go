package ebpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v2" -type flow_key -type flow_stats -type config -type stats -type addr bpf flowcount.c
