namespace Podmon.Containers;

/// <summary>Parsing /proc/PID/cgroup and memory.events / memory.oom_control.</summary>
public static class CgroupInfo
{
    public const string Root = "/sys/fs/cgroup";

    /// <summary>cgroup v1: the directory of <paramref name="controller"/>'s hierarchy for the process, or null.</summary>
    public static string? V1Path(string procCgroup, string controller)
    {
        foreach (string line in procCgroup.Split('\n'))
        {
            // "4:memory:/some/path" (controllers may be joined: "3:cpu,cpuacct:/x")
            int a = line.IndexOf(':'), b = a < 0 ? -1 : line.IndexOf(':', a + 1);
            if (b < 0) continue;
            string controllers = line[(a + 1)..b];
            if (controllers.Split(',').Contains(controller))
                return Root + "/" + controller + line[(b + 1)..].TrimEnd();
        }
        return null;
    }

    /// <summary>cgroup v2: the process's directory from the "0::/path" line, or null.</summary>
    public static string? V2Path(string procCgroup)
    {
        foreach (string line in procCgroup.Split('\n'))
            if (line.StartsWith("0::", StringComparison.Ordinal))
                return Root + line[3..].TrimEnd().TrimEnd('/');
        return null;
    }

    /// <summary>A "key value" counter from memory.events or memory.oom_control; 0 when absent.</summary>
    public static ulong Counter(string text, string key)
    {
        foreach (string line in text.Split('\n'))
        {
            int sp = line.IndexOf(' ');
            if (sp > 0 && line.AsSpan(0, sp).SequenceEqual(key) && ulong.TryParse(line.AsSpan(sp + 1).Trim(), out ulong v))
                return v;
        }
        return 0;
    }

    /// <summary>OOM events in a memory.events (v2) text: the "oom" and "oom_kill" counters summed.</summary>
    public static ulong V2OomCount(string memoryEvents) => Counter(memoryEvents, "oom") + Counter(memoryEvents, "oom_kill");

    public static bool IsV2() => Sys.Libc.FileSystemType(Root) == Sys.Libc.CGROUP2_SUPER_MAGIC;
}
