using System.Text.Json.Nodes;
using Podmon.Sys;

namespace Podmon.IntegrationTests.Containers.Fixtures;

/// <summary>
/// A busybox rootfs, OCI bundles made from `runc spec`, a private runc --root, and cleanup of
/// every container (runc delete -f) and cgroup at the end. One per test class.
/// </summary>
public sealed class RuncFixture : IDisposable
{
    public const string Runc = "/usr/sbin/runc";
    static readonly string[] Applets = ["sh", "echo", "cat", "sleep", "head", "yes", "dd", "stty", "printf", "tr", "true", "false", "seq", "kill", "ls", "env", "tail", "sha256sum", "wc", "nc"];

    readonly List<string> _ids = [];
    readonly string _template;
    int _bundles;

    public string Root { get; }
    public string StateDir => Path.Combine(Root, "state");
    public string RuntimeDir => Path.Combine(Root, "run");
    public string Rootfs => Path.Combine(Root, "rootfs");
    public string CgroupParent { get; }

    public RuncFixture()
    {
        IntegrationHost.Require(); // a class fixture runs before the assembly's check does
        foreach (string tool in new[] { Runc, "/bin/busybox" })
            if (!File.Exists(tool)) throw new IntegrationHostException($"{tool} is missing (tests/install-deps.sh installs it)");
        // Container inits become our children when runc exits, as they do for podmon.
        Errno.Check(Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl");
        Root = Directory.CreateTempSubdirectory("podmon-ct-").FullName;
        Directory.CreateDirectory(StateDir);
        Directory.CreateDirectory(RuntimeDir);
        foreach (string d in new[] { "bin", "proc", "dev", "sys", "tmp", "etc" }) Directory.CreateDirectory(Path.Combine(Rootfs, d));
        File.Copy("/bin/busybox", Path.Combine(Rootfs, "bin/busybox"));
        foreach (string a in Applets) File.CreateSymbolicLink(Path.Combine(Rootfs, "bin", a), "busybox");
        string specDir = Path.Combine(Root, "spec");
        Directory.CreateDirectory(specDir);
        Host.Check(Runc, "spec", "--bundle", specDir);
        _template = File.ReadAllText(Path.Combine(specDir, "config.json"));
        CgroupParent = $"podmon-test-{Path.GetFileName(Root)}";
    }

    public string NewId(string prefix = "c")
    {
        string id = $"{prefix}-{Guid.NewGuid():N}"[..20];
        lock (_ids) _ids.Add(id);
        return id;
    }

    /// <summary>A bundle running <paramref name="args"/> in the shared read-only rootfs.</summary>
    public string Bundle(string id, string[] args, bool terminal = false, long memoryLimit = 0)
    {
        string dir = Path.Combine(Root, $"bundle-{Interlocked.Increment(ref _bundles)}");
        Directory.CreateDirectory(dir);
        JsonNode config = JsonNode.Parse(_template)!;
        config["root"]!["path"] = Rootfs;
        config["root"]!["readonly"] = true;
        config["process"]!["args"] = new JsonArray([.. args.Select(a => (JsonNode)JsonValue.Create(a)!)]);
        config["process"]!["terminal"] = terminal;
        JsonNode linux = config["linux"]!;
        linux["cgroupsPath"] = $"/{CgroupParent}/{id}";
        if (memoryLimit > 0)
        {
            linux["resources"] ??= new JsonObject();
            linux["resources"]!["memory"] = new JsonObject { ["limit"] = memoryLimit, ["swap"] = memoryLimit };
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }

    public void Start(string id) => Host.Check(Runc, "--root", StateDir, "start", id);

    public string State(string id) => Host.Run(Runc, "--root", StateDir, "state", id).Output;

    public void Dispose()
    {
        string[] ids;
        lock (_ids) ids = [.. _ids];
        foreach (string id in ids) Host.Run(Runc, "--root", StateDir, "delete", "-f", id);
        foreach (string ctl in new[] { "memory", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd" })
        {
            string dir = $"/sys/fs/cgroup/{ctl}/{CgroupParent}";
            if (!Directory.Exists(dir)) continue;
            foreach (string sub in Directory.GetDirectories(dir))
                try { Directory.Delete(sub); } catch (IOException) { }
            try { Directory.Delete(dir); } catch (IOException) { }
        }
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
