using System.Text.RegularExpressions;
using Podmon.Cli;

namespace Podmon.Tests.Cli;

/// <summary>The usage text (Cli/Usage.cs) and the man page (packaging/podmon.8) against the option table.</summary>
public partial class OptionTableTests
{
    [GeneratedRegex(@"(?<![\w-])--?[A-Za-z0-9][A-Za-z0-9-]*")]
    private static partial Regex OptionToken();

    [GeneratedRegex(@"^\s+(?:(-\w), )?(--[a-z0-9-]+)")]
    private static partial Regex UsageOptionLine();

    [Fact]
    public void The_usage_lists_every_server_option_with_its_variable()
    {
        var lines = Usage.Text.Split('\n').Select(l => (Line: l, M: UsageOptionLine().Match(l))).Where(x => x.M.Success).ToList();
        Assert.NotEmpty(lines);
        var rows = Rows(OptionCommand.ServerMode).Where(o => !o.Hidden).ToList();
        AssertSameNames(rows.SelectMany(o => o.Names), lines.SelectMany(x => new[] { x.M.Groups[1].Value, x.M.Groups[2].Value }).Where(n => n.Length > 0),
            "Cli/Usage.cs's options");
        foreach ((string line, Match m) in lines)
        {
            OptionSpec o = rows.Single(r => r.Long == m.Groups[2].Value);
            Assert.True(m.Groups[1].Value == (o.ShortName ?? ""), $"usage of {o.Long}: short name '{m.Groups[1].Value}', the table's '{o.ShortName}'");
            Match env = Regex.Match(line, @"\[env: ([A-Z_]+)=\]");
            Assert.True(env.Success ? env.Groups[1].Value == o.Env : o.Env is null, $"usage of {o.Long}: variable '{env.Groups[1].Value}', the table's '{o.Env}'");
        }
    }

    /// <summary>packaging/podmon.8 with roff's "\-" as "-", split at .SH/.SS into (title, lines).</summary>
    static Dictionary<string, List<string>> ManSections()
    {
        var sections = new Dictionary<string, List<string>>();
        List<string> current = [];
        foreach (string raw in File.ReadLines(Repo.Path("packaging", "podmon.8")))
        {
            string line = raw.Replace(@"\-", "-");
            if (line.StartsWith(".SH ", StringComparison.Ordinal) || line.StartsWith(".SS ", StringComparison.Ordinal))
                sections[line[4..].Trim('"')] = current = [];
            else current.Add(line);
        }
        return sections;
    }

    /// <summary>The option definitions of a man page section: each .TP tag line.</summary>
    static List<string> TagLines(List<string> section) =>
        section.Select((l, i) => (l, i)).Where(x => x.i > 0 && section[x.i - 1] == ".TP").Select(x => x.l).ToList();

    public static TheoryData<string, OptionCommand> ManSectionsByCommand => new()
    {
        { "SERVER MODE OPTIONS", OptionCommand.ServerMode },
        { "pause", OptionCommand.Pause },
        { "CONMON MODE OPTIONS", OptionCommand.ConmonMode },
    };

    [Theory]
    [MemberData(nameof(ManSectionsByCommand))]
    public void The_man_page_defines_every_option_with_its_variable(string section, OptionCommand command)
    {
        List<string> tags = TagLines(ManSections()[section]);
        AssertSameNames(Rows(command).SelectMany(o => o.Names), tags.SelectMany(t => OptionToken().Matches(t).Select(m => m.Value)),
            $"podmon(8) {section}");
        foreach (OptionSpec o in Rows(command))
        {
            string tag = tags.First(t => OptionToken().Matches(t).Any(m => m.Value == o.Long));
            Match env = Regex.Match(tag, @"\[([A-Z_]+)\]");
            Assert.True(env.Success ? env.Groups[1].Value == o.Env : o.Env is null, $"podmon(8) {o.Long}: variable '{env.Groups[1].Value}', the table's '{o.Env}'");
        }
    }

    [Fact]
    public void The_man_page_names_the_options_that_choose_conmon_mode()
    {
        List<string> modes = ManSections()["MODES"];
        int from = modes.IndexOf(".IP 2. 4"), to = modes.IndexOf(".IP 3. 4");
        Assert.True(from >= 0 && to > from, "podmon(8) MODES: items 2. and 3. not found");
        AssertSameNames(OptionTable.ConmonModeNames(), modes[from..to].SelectMany(l => OptionToken().Matches(l).Select(m => m.Value)),
            "podmon(8) MODES, conmon mode");
    }
}
