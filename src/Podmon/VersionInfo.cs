using System.Runtime.InteropServices;
using System.Text;
using Podmon.Logging;

namespace Podmon;

/// <summary>
/// What `--version` and the version RPC report. The Rust-named fields of conmon-rs carry the
/// .NET equivalents: rustVersion = the runtime, cargoVersion = the SDK that built it.
/// </summary>
public static class VersionInfo
{
    public static string Version => BuildInfo.Version;
    public static string Tag => BuildInfo.Tag;
    public static string Commit => BuildInfo.Commit;
    public static string BuildDate => BuildInfo.BuildDate;
    public static string Target => BuildInfo.Target;
    public static string RuntimeVersion { get; } = $".NET {Environment.Version} ({RuntimeInformation.OSArchitecture}, NativeAOT)";
    public static string SdkVersion => BuildInfo.SdkVersion;
    public static string DependencyTree => BuildInfo.DependencyTree;

    public static string Text(bool full)
    {
        var sb = new StringBuilder();
        sb.Append("version: ").Append(Version).Append('\n');
        sb.Append("tag: ").Append(Tag.Length == 0 ? "none" : Tag).Append('\n');
        sb.Append("commit: ").Append(Commit).Append('\n');
        sb.Append("build: ").Append(BuildDate).Append('\n');
        sb.Append("target: ").Append(Target).Append('\n');
        sb.Append(RuntimeVersion).Append('\n');
        sb.Append(SdkVersion).Append('\n');
        if (full) sb.Append("\ncargo tree: ").Append(DependencyTree).Append('\n');
        return sb.ToString();
    }

    public static string Json(bool full)
    {
        var sb = new StringBuilder("{");
        Field(sb, "verbose", full ? "true" : "false", raw: true);
        Field(sb, "version", Version);
        Field(sb, "tag", Tag);
        Field(sb, "commit", Commit);
        Field(sb, "build_date", BuildDate);
        Field(sb, "target", Target);
        Field(sb, "rust_version", RuntimeVersion);
        Field(sb, "cargo_version", SdkVersion);
        Field(sb, "cargo_tree", full ? DependencyTree : "");
        sb.Length--;
        return sb.Append("}\n").ToString();
    }

    static void Field(StringBuilder sb, string name, string value, bool raw = false)
    {
        sb.Append('"').Append(name).Append("\":");
        if (raw) sb.Append(value);
        else sb.Append(JsonEscape.Quote(value));
        sb.Append(',');
    }
}
