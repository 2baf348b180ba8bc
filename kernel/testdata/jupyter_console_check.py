"""Drives `jupyter console --kernel ordermerge` in a pseudo-terminal, as a person types.

Run by kernel/jupyter_test.go with JUPYTER_PATH pointing at a temporary kernelspec. The full
prompt (not --simple-prompt) is used because it is the one that asks the kernel whether the
input is complete (is_complete_request) when Enter is pressed, which is how a function is
typed over several lines. Prints one line per check; exits non-zero on any failure.
"""
import re
import sys

import pexpect

# prompt_toolkit colours the prompts: allow escape sequences between any two characters.
ESC = r"(?:\x1b\[[0-9;?]*[a-zA-Z])*"


def pat(text):
    return ESC.join(re.escape(c) for c in text)


failed = 0


def check(name, patterns, timeout=30):
    global failed
    try:
        child.expect(patterns, timeout=timeout)
        print("PASS " + name, flush=True)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        failed += 1
        seen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", child.before or "")
        print("FAIL %s: %s; output: %r" % (name, type(e).__name__, seen[-400:]), flush=True)


child = pexpect.spawn("/usr/bin/jupyter", ["console", "--kernel", "ordermerge"], encoding="utf-8",
                      timeout=30, dimensions=(40, 200))
check("prompt", pat("In [1]: "), timeout=60)

# A function over three lines: the console asks is_complete after each Enter and shows the
# continuation prompt until the kernel says the input is complete.
child.send("func double(a int) int {\r")
check("continuation after an open brace", pat("...: "))
child.send("return a * 2\r")
check("continuation inside the body", pat("...: "))
child.send("}\r")
check("function defined", pat("In [2]: "))

child.send("x := double(21)\r")
check("statement", pat("In [3]: "))
child.send("x\r")
check("value", pat("Out[3]: ") + ESC + r"\s*42")
child.send('fmt.Println("hello", x)\r')
check("stdout", "hello" + ESC + " " + ESC + "42")
child.send("undefinedName + 1\r")
check("error", pat("undefined: undefinedName"))
child.send("for i := range 3 { fmt.Print(i) }\r")
check("loop output", "012")
child.send("exit\r")
check("exit ends the console", pexpect.EOF)

print("%d failed" % failed, flush=True)
sys.exit(1 if failed else 0)
