package sidecartest

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProcCPUReadsItsOwnProcess(t *testing.T) {
	x := 0
	for i := 0; i < 50_000_000; i++ { // about 20 ms or more of CPU
		x += i % 7
	}
	name, own, _ := procCPU(fmt.Sprintf("/proc/%d/stat", os.Getpid()))
	require.NotEmpty(t, name, "x=%d", x)
	require.Positive(t, own, "the CPU this test burnt is counted")
	name, own, children := procCPU("/proc/0/stat")
	require.Empty(t, name, "a process that is not there counts nothing")
	require.Zero(t, own+children)
}
