package flow

import "unsafe"

var stateSize = unsafe.Sizeof(state{})
