using Podmon.Pod;

namespace Podmon.Tests.Pod;

/// <summary>The checks createNamespaces makes before it starts anything, and the pause's command line.</summary>
public class NamespacesRequestTests
{
    static NamespacesRequest Req(string pod = "p", string basePath = "/run/b", NamespaceKind[]? kinds = null, string[]? uid = null, string[]? gid = null) => new()
    {
        PodId = pod,
        BasePath = basePath,
        Kinds = kinds ?? [NamespaceKind.Net],
        UidMappings = uid ?? [],
        GidMappings = gid ?? [],
    };

    [Theory]
    [InlineData("0 1000 1", true)]
    [InlineData(" 0\t1000  65536 ", true)]
    [InlineData("4294967295 0 1", true)]
    [InlineData("4294967296 0 1", false)]
    [InlineData("0 1000", false)]
    [InlineData("0 1000 1 2", false)]
    [InlineData("-1 0 1", false)]
    [InlineData("+1 0 1", false)]
    [InlineData("0x1 0 1", false)]
    [InlineData("", false)]
    public void MappingLines(string line, bool valid) => Assert.Equal(valid, NamespacesRequest.IsMapping(line));

    [Fact]
    public void EachBadFieldIsNamed()
    {
        Assert.Null(Req().Validate());
        Assert.Equal("no pod ID provided", Req(pod: "").Validate());
        Assert.Equal("pod ID 'a/b' is not a file name", Req(pod: "a/b").Validate());
        Assert.Equal("pod ID '..' is not a file name", Req(pod: "..").Validate());
        Assert.Equal("no base path provided", Req(basePath: "").Validate());
        Assert.Equal("base path 'run' is not an absolute path", Req(basePath: "run").Validate());
        Assert.Equal("the user namespace needs uidMappings (none given)", Req(kinds: [NamespaceKind.User]).Validate());
        Assert.Equal("the user namespace needs gidMappings (none given)", Req(kinds: [NamespaceKind.User], uid: ["0 1 1"]).Validate());
        Assert.Equal("uidMappings[0] '0 1' is not a mapping 'CONTAINER HOST SIZE' (three unsigned 32-bit numbers)",
            Req(kinds: [NamespaceKind.User], uid: ["0 1"], gid: ["0 1 1"]).Validate());
        Assert.Null(Req(kinds: [NamespaceKind.User], uid: ["0 1 1"], gid: ["0 1 1"]).Validate());
    }

    [Fact]
    public void PauseArgvIsConmonRsCommandLine()
    {
        var r = Req(basePath: "/run/b/", kinds: [NamespaceKind.Uts, NamespaceKind.User, NamespaceKind.Ipc], uid: ["0 1 1"], gid: ["0 2 1", "1 3 1"]);
        Assert.Equal(["podmon", "pause", "--base-path", "/run/b/", "--pod-id=p", "--ipc", "--user",
            "--uid-mappings=0 1 1", "--gid-mappings=0 2 1", "--gid-mappings=1 3 1", "--uts"], r.PauseArgv("podmon"));
        Assert.Equal("/run/b/netns/p", r.PathOf(NamespaceKind.Net));
        Assert.Equal("/run/b/conmonrs/p.pid", r.PidfilePath);
    }
}
