// green_switch_fcontext(to): resumes the Boost.Context context `to` and
// returns the context that later resumes this one, like
// boost::context::fiber::resume(), through Boost's own jump_fcontext.
//
// Why a shim at all: jump_fcontext is entered by a call but leaves by an
// indirect jmp, so every switch leaves one entry too many on the CPU's
// return stack buffer, and every `ret` after it (switch_away's, its
// caller's, ...) is mispredicted: about 29 ns of a 71 ns green switch round
// trip here (build/bench/api_bench).
// Entering jump_fcontext by a jmp with a pushed return address keeps the
// return stack balanced: the `ret` below pops the entry our caller's call
// pushed, and the fiber that resumes us left through the same call site.
        .text
        .globl  green_switch_fcontext
        .hidden green_switch_fcontext
        .type   green_switch_fcontext, @function
        .p2align 4
green_switch_fcontext:
        .cfi_startproc
        // Keep the ABI's alignment at jump_fcontext's entry (and so at the
        // entry of a function ontop_fcontext later runs on this stack).
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        leaq    1f(%rip), %rax
        pushq   %rax                    // jump_fcontext saves this as our resume address
        .cfi_adjust_cfa_offset 8
        xorl    %esi, %esi              // no data, as fiber::resume()
        jmp     jump_fcontext@PLT
        // An unwinder looks up a return address's frame at the byte before
        // it: the nop gives label 1 the row of a stack without it, as
        // fiber_unwind (thrown on top of this context) leaves it.
        .cfi_adjust_cfa_offset -8
        nop
1:      // resumed: %rax holds the context that left
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   green_switch_fcontext, .-green_switch_fcontext

        .section .note.GNU-stack,"",@progbits
