using System.Diagnostics;

namespace Podmon.Testing;

/// <summary>Runs the published binary (artifacts/podmon, or $PODMON_BINARY).</summary>
public static class PodmonProcess
{
    /// <summary>Where a binary other than the repository's artifacts/podmon is named.</summary>
    public const string BinaryVariable = "PODMON_BINARY";

    static readonly Lazy<string> _binary = new(Locate);

    /// <summary>The binary's path; a clear error (not a type-initializer one) when it was not published.</summary>
    public static string BinaryPath => _binary.Value;

    /// <summary>Whether the binary is there (for a check that wants to say so itself).</summary>
    public static bool TryLocate(out string path, out string problem)
    {
        string? env = Environment.GetEnvironmentVariable(BinaryVariable);
        path = string.IsNullOrEmpty(env) ? Repo.Path("artifacts", "podmon") : env;
        problem = File.Exists(path) ? ""
            : string.IsNullOrEmpty(env) ? $"the published binary {path} is missing: run ./publish.sh first (or set {BinaryVariable})"
            : $"{BinaryVariable}={env} does not exist";
        return problem.Length == 0;
    }

    static string Locate() => TryLocate(out string path, out string problem) ? path : throw new FileNotFoundException(problem, path);

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

    public static Result Run(IEnumerable<string> args, IDictionary<string, string>? env = null, int timeoutMs = 10_000)
    {
        using var p = Start(args, env);
        var sw = Stopwatch.StartNew();
        // Dedicated threads, not async reads: with many blocking tests in parallel the thread
        // pool can be starved for seconds, which would look like a pipe that never closed.
        string stdout = "", stderr = "";
        var outReader = new Thread(() => stdout = p.StandardOutput.ReadToEnd()) { IsBackground = true };
        var errReader = new Thread(() => stderr = p.StandardError.ReadToEnd()) { IsBackground = true };
        outReader.Start();
        errReader.Start();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            throw new TimeoutException($"podmon {string.Join(' ', args)} did not exit within {timeoutMs} ms");
        }
        // Output pipes close only when every holder closed them: a daemon that kept them would hang here.
        if (!outReader.Join(timeoutMs) || !errReader.Join(timeoutMs))
            throw new TimeoutException("podmon's stdout/stderr stayed open after it exited (inherited by the daemon?)");
        return new Result(p.ExitCode, stdout, stderr, sw.Elapsed);
    }

    public static Process Start(IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("CONMON_")).ToList()) psi.Environment.Remove(key);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    public static bool WaitUntil(Func<bool> condition, int timeoutMs = 5000)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            if (condition()) return true;
            Thread.Sleep(5);
        }
        return condition();
    }

    /// <summary>CPU a process has used, user + system, in clock ticks (1/100 s): fields 14 and 15 of /proc/PID/stat.</summary>
    public static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(f[11]) + long.Parse(f[12]);
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }

    public static Dictionary<string, string> Status(int pid) =>
        File.ReadAllLines($"/proc/{pid}/status")
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim());

    /// <summary>A fresh runtime dir under /tmp, removed (with any server in it stopped) on dispose.</summary>
    public sealed class RuntimeDir : IDisposable
    {
        readonly string _base;
        public string Path { get; }
        public string Socket => System.IO.Path.Combine(Path, "conmon.sock");
        public string Pidfile => System.IO.Path.Combine(Path, "pidfile");

        public RuntimeDir(int minLength = 0)
        {
            _base = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "podmon-test-" + Guid.NewGuid().ToString("N")[..12]);
            string p = _base;
            while (p.Length < minLength) p = System.IO.Path.Combine(p, "a-rather-long-directory-name-for-sun-path");
            Path = p;
        }

        public int? ServerPid => File.Exists(Pidfile) && int.TryParse(File.ReadAllText(Pidfile), out int pid) ? pid : null;

        public void Dispose()
        {
            if (ServerPid is int pid && IsAlive(pid) && IsPodmon(pid))
            {
                try { Process.GetProcessById(pid).Kill(); } catch (Exception) { }
            }
            try { Directory.Delete(_base, true); } catch (IOException) { }
        }
    }

    /// <summary>The binary's executable mapping in <paramref name="pid"/>: kB resident and kB mapped (from /proc/PID/smaps).</summary>
    public static (int RssKb, int SizeKb) CodeMapping(int pid)
    {
        string exe = new FileInfo(BinaryPath).FullName;
        bool inCode = false;
        int size = 0;
        foreach (string line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 5 && f[0].Contains('-') && !f[0].EndsWith(':'))
            {
                inCode = f.Length == 6 && f[1] == "r-xp" && f[5] == exe;
                if (inCode)
                {
                    string[] range = f[0].Split('-');
                    size = (int)((Convert.ToInt64(range[1], 16) - Convert.ToInt64(range[0], 16)) / 1024);
                }
            }
            else if (inCode && f[0] == "Rss:") return (int.Parse(f[1]), size);
        }
        throw new InvalidOperationException($"no executable mapping of {exe} in {pid}");
    }

    /// <summary>The binary's writable data mapping (rw-p): resident kB, of which anonymous (written) kB, and its size.</summary>
    public static (int RssKb, int AnonymousKb, int SizeKb) DataMapping(int pid)
    {
        string exe = new FileInfo(BinaryPath).FullName;
        bool inData = false;
        int size = 0, rss = 0;
        foreach (string line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 5 && f[0].Contains('-') && !f[0].EndsWith(':'))
            {
                inData = f.Length == 6 && f[1] == "rw-p" && f[5] == exe;
                if (inData)
                {
                    string[] range = f[0].Split('-');
                    size = (int)((Convert.ToInt64(range[1], 16) - Convert.ToInt64(range[0], 16)) / 1024);
                }
            }
            else if (inData && f[0] == "Rss:") rss = int.Parse(f[1]);
            else if (inData && f[0] == "Anonymous:") return (rss, int.Parse(f[1]), size);
        }
        throw new InvalidOperationException($"no writable data mapping of {exe} in {pid}");
    }

    public static bool IsPodmon(int pid)
    {
        try { return new FileInfo($"/proc/{pid}/exe").LinkTarget == new FileInfo(BinaryPath).FullName; }
        catch (IOException) { return false; }
    }
}
