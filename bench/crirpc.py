"""What a CRI-O-like caller needs to drive podmon and measure it, shared by the benchmarks
(containers.py, ci.py): just enough Cap'n Proto to send createContainer / execSyncContainer on a
fresh connection and read the Return, process CPU and memory from /proc, the pod watchdog of a
server, and an inotify watch for exit files."""
import ctypes, os, select, socket, struct, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIRE = os.path.join(ROOT, "tests", "fixtures", "wire")  # golden frames (tests/fixtures/README.md)
CLK = os.sysconf("SC_CLK_TCK")
libc = ctypes.CDLL("libc.so.6", use_errno=True)


# ---------------------------------------------------------------- Cap'n Proto, just enough

class Builder:
    """One-segment Cap'n Proto message builder."""
    def __init__(self):
        self.b = bytearray(8)  # word 0: root pointer

    def alloc(self, words):
        at = len(self.b) // 8
        self.b += bytes(8 * words)
        return at

    def _ptr(self, at, lo, hi):
        struct.pack_into("<II", self.b, at * 8, lo & 0xFFFFFFFF, hi)

    def struct(self, at, dw, pw):
        t = self.alloc(dw + pw)
        self._ptr(at, (t - at - 1) << 2, dw | (pw << 16))
        return t  # data at t, pointers at t + dw

    def text(self, at, s):
        data = s.encode() + b"\0"
        t = self.alloc((len(data) + 7) // 8)
        self.b[t * 8:t * 8 + len(data)] = data
        self._ptr(at, ((t - at - 1) << 2) | 1, (len(data) << 3) | 2)

    def text_list(self, at, items):
        t = self.alloc(len(items))
        self._ptr(at, ((t - at - 1) << 2) | 1, (len(items) << 3) | 6)
        for i, s in enumerate(items):
            self.text(t + i, s)

    def struct_list(self, at, n, dw, pw):
        t = self.alloc(1 + n * (dw + pw))
        self._ptr(at, ((t - at - 1) << 2) | 1, ((n * (dw + pw)) << 3) | 7)
        struct.pack_into("<II", self.b, t * 8, (n << 2) & 0xFFFFFFFF, dw | (pw << 16))
        return [t + 1 + i * (dw + pw) for i in range(n)]

    def u16(self, word, byte, v): struct.pack_into("<H", self.b, word * 8 + byte, v)
    def u32(self, word, byte, v): struct.pack_into("<I", self.b, word * 8 + byte, v)
    def u64(self, word, v): struct.pack_into("<Q", self.b, word * 8, v)

    def frame(self):
        return struct.pack("<II", 0, len(self.b) // 8) + bytes(self.b)


def call_frame(question, method, fill):
    """Call(question) on the bootstrap promise (question 0), as the C++ client pipelines it."""
    m = Builder()
    msg = m.struct(0, 1, 1)
    m.u16(msg, 0, 2)                       # Message.call
    call = m.struct(msg + 1, 3, 3)
    m.u32(call, 0, question)
    m.u16(call, 4, method)
    m.u64(call + 1, 0xB737E899DD6633F1)    # Conmon
    target = m.struct(call + 3, 1, 1)
    m.u16(target, 4, 1)                    # promisedAnswer
    pa = m.struct(target + 1, 1, 1)        # questionId 0
    m.struct_list(pa + 1, 0, 1, 0)         # transform = []
    payload = m.struct(call + 4, 0, 2)
    params = m.struct(payload, 0, 1)
    fill(m, params)                        # params.request at pointer `params`
    return m.frame()


def create_frame(cid, bundle, exit_path, log_path):
    def fill(m, at):
        r = m.struct(at, 1, 12)            # CreateContainerRequest: 8 bytes, 12 ptrs
        p = r + 1
        m.text(p + 0, cid)
        m.text(p + 1, bundle)
        m.text_list(p + 2, [exit_path])
        (ld,) = m.struct_list(p + 4, 1, 2, 1)  # LogDriver{type cri, path, maxSize 0}
        m.text(ld + 2, log_path)
        m.u16(r, 2, 1)                     # cgroupManager = cgroupfs
    return call_frame(1, 1, fill)


def exec_frame(cid, cmd):
    def fill(m, at):
        r = m.struct(at, 2, 4)             # ExecSyncContainerRequest: 16 bytes, 4 ptrs
        m.text(r + 2, cid)
        m.text_list(r + 3, cmd)
        m.u16(r + 1, 2, 1)                 # cgroupManager = cgroupfs (bits 80-95)
    return call_frame(1, 2, fill)


BOOTSTRAP = open(os.path.join(WIRE, "bootstrap-request.bin"), "rb").read() if os.path.exists(WIRE) else None


def _deref(seg, at):
    """Follows the pointer at word `at`: (target word, data words, pointer words / list size word)."""
    lo, hi = struct.unpack_from("<iI", seg, at * 8)
    if lo & 3 == 2:
        raise ValueError("far pointer: multi-segment answers are not handled")
    return at + 1 + (lo >> 2), hi & 0xFFFF, hi


def _field(seg, at, i):
    """Struct at pointer `at` -> (its data word, where its pointer i is)."""
    t, dw, _ = _deref(seg, at)
    return t, t + dw + i


def _text(seg, at):
    t, _, hi = _deref(seg, at)
    return seg[t * 8:t * 8 + (hi >> 3) - 1].decode(errors="replace")


def rpc(path, frame, timeout=60.0):
    """Fresh connection: Bootstrap + the pipelined call; returns (segment, data word) of the
    response struct in the Return for question 1. Raises on an exception or Abort."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        s.sendall(BOOTSTRAP + frame)
        buf = b""
        deadline = time.monotonic() + timeout
        while True:
            while len(buf) >= 8:
                nseg = struct.unpack_from("<I", buf)[0] + 1
                hdr = (4 * (nseg + 1) + 7) & ~7
                if len(buf) < hdr:
                    break
                sizes = struct.unpack_from(f"<{nseg}I", buf, 4)
                size = hdr + 8 * sum(sizes)
                if len(buf) < size:
                    break
                seg, buf = buf[hdr:hdr + 8 * sizes[0]], buf[size:]
                m, mp = _field(seg, 0, 0)
                which = struct.unpack_from("<H", seg, m * 8)[0]
                if which == 1:
                    raise RuntimeError("Abort: " + _text(seg, _field(seg, mp, 0)[1]))
                if which != 3:
                    continue
                ret, rp = _field(seg, mp, 0)
                answer, = struct.unpack_from("<I", seg, ret * 8)
                rwhich = struct.unpack_from("<H", seg, ret * 8 + 6)[0]
                if answer != 1:
                    continue
                if rwhich == 1:
                    raise RuntimeError("remote exception: " + _text(seg, _field(seg, rp, 0)[1]))
                _, content = _field(seg, rp, 0)         # Payload.content
                _, response = _field(seg, content, 0)   # XResults.response
                data, _ = _field(seg, response, 0)
                return seg, data
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                raise TimeoutError("no Return from " + path)
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            buf += chunk
    finally:
        s.close()


def raw_create(sock, cid, bundle, exit_path, log_path):
    seg, resp = rpc(sock, create_frame(cid, bundle, exit_path, log_path))
    pid = struct.unpack_from("<I", seg, resp * 8)[0]
    if pid <= 0:
        raise RuntimeError(f"create {cid}: pid {pid}")
    return pid


def raw_exec(sock, cid, cmd):
    seg, resp = rpc(sock, exec_frame(cid, cmd))
    return struct.unpack_from("<i", seg, resp * 8)[0]


# ---------------------------------------------------------------- processes

def cpu_stat(pid):
    s = open(f"/proc/{pid}/stat").read()
    f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / CLK, int(f[11]) / CLK, int(f[12]) / CLK


def cpu_sched(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e9


def status_kb(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None


def watchdog_of(server):
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open(f"/proc/{p}/stat").read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == server and b"--pod-watchdog" in open(f"/proc/{p}/cmdline", "rb").read():
                return int(p)
        except (OSError, ValueError):
            pass
    return None


class ExitWatch:
    """inotify on the exit dir: time at which `name` was renamed in / closed after writing."""
    def __init__(self, d):
        self.fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        libc.inotify_add_watch(self.fd, d.encode(), 0x80 | 0x08)  # IN_MOVED_TO | IN_CLOSE_WRITE

    def wait(self, name, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not select.select([self.fd], [], [], max(0, deadline - time.monotonic()))[0]:
                break
            t = time.perf_counter()
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            off = 0
            while off < len(buf):
                ln = struct.unpack_from("<I", buf, off + 12)[0]
                ev = buf[off + 16:off + 16 + ln].rstrip(b"\0").decode()
                off += 16 + ln
                if ev == name:
                    return t
        raise TimeoutError("exit file " + name)

    def close(self):
        os.close(self.fd)


def q(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)
