package kvm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/escapement/escapement/events"
)

// ISA values of the kvm_exit tracepoint's isa field (KVM_ISA_VMX, KVM_ISA_SVM).
const (
	ISAVMX = 1
	ISASVM = 2
)

// ExitTable maps raw VMX and SVM exit reasons to their names, as the
// running kernel's kvm_exit print fmt lists them, and to normalised kinds.
type ExitTable struct {
	VMX map[uint32]string
	SVM map[uint32]string
}

var symbolicEntry = regexp.MustCompile(`\{\s*([^,{}"]+?)\s*,\s*((?:"[^"]*"\s*)+)\}`)

// ParseExitTable extracts the two __print_symbolic tables (VMX first, then
// SVM) from the print fmt of kvm_exit.
func ParseExitTable(printFmt string) (ExitTable, error) {
	tabs := symbolicTables(printFmt)
	if len(tabs) < 2 {
		return ExitTable{}, fmt.Errorf("%w: kvm_exit print fmt has %d exit reason tables, want VMX and SVM", ErrFormat, len(tabs))
	}
	return ExitTable{VMX: tabs[0], SVM: tabs[1]}, nil
}

// symbolicTables returns the value→name tables of every __print_symbolic in s.
func symbolicTables(s string) []map[uint32]string {
	var out []map[uint32]string
	for {
		i := strings.Index(s, "__print_symbolic(")
		if i < 0 {
			return out
		}
		s = s[i+len("__print_symbolic("):]
		// The table ends at the parenthesis closing __print_symbolic.
		depth, end := 1, len(s)
		inStr := false
		for j := 0; j < len(s); j++ {
			c := s[j]
			switch {
			case c == '"':
				inStr = !inStr
			case inStr:
			case c == '(':
				depth++
			case c == ')':
				depth--
			}
			if depth == 0 {
				end = j
				break
			}
		}
		tab := make(map[uint32]string)
		for _, m := range symbolicEntry.FindAllStringSubmatch(s[:end], -1) {
			v, ok := evalConst(m[1])
			if !ok {
				continue
			}
			tab[v] = joinCStrings(m[2])
		}
		out = append(out, tab)
		s = s[end:]
	}
}

// evalConst evaluates "0x040 + 13", "-1" or "12".
func evalConst(expr string) (uint32, bool) {
	var sum int64
	for _, t := range strings.Split(expr, "+") {
		n, err := strconv.ParseInt(strings.TrimSpace(t), 0, 64)
		if err != nil {
			return 0, false
		}
		sum += n
	}
	return uint32(sum), true
}

func joinCStrings(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, `"`)[1:] {
		if strings.TrimSpace(part) == "" {
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}

// Name returns the kernel's name of a raw exit reason.
func (t ExitTable) Name(isa uint32, reason uint32) string {
	switch isa {
	case ISAVMX:
		if n, ok := t.VMX[reason&0xffff]; ok {
			return n
		}
	case ISASVM:
		if n, ok := t.SVM[reason]; ok {
			return n
		}
	}
	return ""
}

// Kind returns the normalised kind of a raw exit reason: the same kind for
// the same guest action on VMX and SVM, KindExitOther when the reason has no
// canonical kind.
func (t ExitTable) Kind(isa uint32, reason uint32) events.Kind {
	name := t.Name(isa, reason)
	if name == "" {
		return events.KindExitOther
	}
	if isa == ISAVMX {
		if k, ok := vmxKinds[name]; ok {
			return k
		}
		return events.KindExitOther
	}
	return svmKind(name)
}

// vmxKinds normalises VMX basic exit reasons by name (Intel SDM vol. 3,
// appendix C).
var vmxKinds = map[string]events.Kind{
	"EXCEPTION_NMI":      events.KindException,
	"EXTERNAL_INTERRUPT": events.KindInterrupt,
	"INTERRUPT_WINDOW":   events.KindInterrupt,
	"NMI_WINDOW":         events.KindInterrupt,
	"CPUID":              events.KindCPUID,
	"HLT":                events.KindHLT,
	"VMCALL":             events.KindHypercall,
	"CR_ACCESS":          events.KindCR,
	"DR_ACCESS":          events.KindDR,
	"IO_INSTRUCTION":     events.KindIO,
	"MSR_READ":           events.KindMSR,
	"MSR_WRITE":          events.KindMSR,
	"MSR_READ_IMM":       events.KindMSR,
	"MSR_WRITE_IMM":      events.KindMSR,
	"EPT_VIOLATION":      events.KindPageFault,
	"EPT_MISCONFIG":      events.KindMMIO,
	"APIC_ACCESS":        events.KindMMIO,
}

// svmKind normalises SVM exit codes by name (AMD APM vol. 2, appendix C).
func svmKind(name string) events.Kind {
	switch {
	case strings.HasPrefix(name, "read_cr"), strings.HasPrefix(name, "write_cr"), name == "cr0_sel_write":
		return events.KindCR
	case strings.HasPrefix(name, "read_dr"), strings.HasPrefix(name, "write_dr"):
		return events.KindDR
	case strings.HasSuffix(name, " excp"):
		return events.KindException
	}
	switch name {
	case "interrupt", "nmi", "vintr", "smi":
		return events.KindInterrupt
	case "cpuid":
		return events.KindCPUID
	case "hlt", "idle-halt":
		return events.KindHLT
	case "io":
		return events.KindIO
	case "msr", "write_efer_trap":
		return events.KindMSR
	case "hypercall":
		return events.KindHypercall
	case "npf":
		return events.KindPageFault
	case "avic_unaccelerated_access":
		return events.KindMMIO
	}
	return events.KindExitOther
}

// foldable reports whether an exit of kind k is normally followed, on the
// same vCPU thread, by a companion tracepoint that carries its operands
// (kvm_pio, kvm_mmio, kvm_msr, kvm_cpuid, kvm_hypercall, kvm_cr,
// kvm_page_fault). Such an exit is held until the companion arrives and
// then dropped in favour of it.
func foldable(k events.Kind) bool {
	switch k {
	case events.KindIO, events.KindMMIO, events.KindMSR, events.KindCPUID,
		events.KindHypercall, events.KindCR, events.KindPageFault:
		return true
	}
	return false
}
