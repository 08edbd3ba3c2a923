using System.Text.RegularExpressions;
using Podmon.Cli;
using Podmon.ConmonCli;

namespace Podmon.Tests.Cli;

/// <summary>
/// The option table (src/Podmon/Cli/OptionTable.cs) against everything else that names options:
/// the C parsers that run before the runtime (native/early.c, native/pause.c, read as source),
/// the managed parsers, the usage text and the man page. An option added, renamed or dropped in
/// one of them and not in the table fails here.
/// </summary>
public partial class OptionTableTests
{
    static IEnumerable<OptionSpec> Rows(OptionCommand command) => OptionTable.All.Where(o => o.Command == command);

    static SortedSet<string> Set(IEnumerable<string> names) => new(names, StringComparer.Ordinal);

    static void AssertSameNames(IEnumerable<string> table, IEnumerable<string> other, string what)
    {
        SortedSet<string> t = Set(table), o = Set(other);
        Assert.True(t.SetEquals(o),
            $"{what}: only in the table: [{string.Join(", ", t.Except(o))}]; not in the table: [{string.Join(", ", o.Except(t))}]");
    }

    [Fact]
    public void Rows_are_well_formed()
    {
        foreach (OptionCommand command in Enum.GetValues<OptionCommand>())
        {
            var names = Rows(command).SelectMany(o => o.Names).ToList();
            Assert.True(names.Count == names.Distinct().Count(), $"{command}: a name twice: {string.Join(", ", names.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key))}");
        }
        foreach (OptionSpec o in OptionTable.All)
        {
            Assert.Matches("^--[a-z0-9][a-z0-9-]*$", o.Long);
            Assert.True(o.ParsedBy != 0, $"{o.Long}: no parser reads it");
            Assert.False(string.IsNullOrWhiteSpace(o.What), $"{o.Long}: says nothing about what podmon does");
            Assert.True(o.Env is null || o.Command != OptionCommand.ConmonMode, $"{o.Long}: conmon mode reads no variables");
            Assert.True(!o.SelectsConmonMode || o.Command == OptionCommand.ConmonMode && o.IsParsedBy(OptionParsers.EarlyC),
                $"{o.Long}: only early.c, and only a conmon option, chooses conmon mode");
            Assert.True(o.Command == OptionCommand.Pause || !o.IsParsedBy(OptionParsers.PauseC), $"{o.Long}: pause.c reads only pause's options");
        }
    }

    public static TheoryData<OptionCommand> ManagedCommands => [OptionCommand.ServerMode, OptionCommand.ConmonMode];

    static IReadOnlyCollection<string> ActedOn(OptionCommand command) =>
        command == OptionCommand.ServerMode ? CommandLine.ActedOn : ConmonCommandLine.ActedOn;

    [Theory]
    [MemberData(nameof(ManagedCommands))]
    public void The_managed_parser_acts_on_exactly_the_rows_that_say_so(OptionCommand command) =>
        AssertSameNames(Rows(command).Where(o => o.IsParsedBy(OptionParsers.Managed) && o.Handling == OptionHandling.Acts).Select(o => o.Long),
            ActedOn(command), $"{command}: the table's Acts+Managed rows and the parser's actions");

    /// <summary>Runs the managed parser of <paramref name="o"/>'s command on one spelling of it.</summary>
    static (UsageException? Error, IReadOnlyList<string> Ignored) ParseOne(OptionSpec o, string name)
    {
        string[] args = o.Arity == OptionArity.Value ? [name, "1"] : [name];
        try
        {
            return o.Command == OptionCommand.ServerMode
                ? (null, CommandLine.Parse(args, _ => null).Ignored)
                : (null, ConmonCommandLine.Parse(args).Ignored);
        }
        catch (UsageException e)
        {
            return (e, []);
        }
    }

    static bool IsUnknown(UsageException? e) =>
        e is not null && (e.Message.StartsWith("unknown option", StringComparison.Ordinal) || e.Message.StartsWith("unexpected argument", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(ManagedCommands))]
    public void Each_name_is_read_by_its_managed_parser_as_the_table_says(OptionCommand command)
    {
        foreach (OptionSpec o in Rows(command))
            foreach (string name in o.Names)
            {
                (UsageException? error, IReadOnlyList<string> ignored) = ParseOne(o, name);
                if (!o.IsParsedBy(OptionParsers.Managed))
                    Assert.True(IsUnknown(error), $"{name}: not read by the managed parser in the table, but it took it ({error?.Message})");
                else if (o.Handling == OptionHandling.Rejected)
                    Assert.Equal(o.What, error?.Message);
                else
                {
                    Assert.False(IsUnknown(error), $"{name}: in the table, unknown to the managed parser: {error?.Message}");
                    if (error is null) Assert.Equal(o.Handling == OptionHandling.Ignored, ignored.Contains(o.Long));
                }
            }
    }

    [Fact]
    public void Pause_options_read_by_the_managed_parser_print_the_usage()
    {
        foreach (OptionSpec o in Rows(OptionCommand.Pause).Where(o => o.IsParsedBy(OptionParsers.Managed)))
            foreach (string name in o.Names)
                Assert.Equal(CommandKind.Help, CommandLine.Parse(["pause", "--pod-id", "p", name], _ => null).Kind);
    }

    // ---- the C parsers, read as source

    [GeneratedRegex(@"/\*.*?\*/|//[^\n]*", RegexOptions.Singleline)]
    private static partial Regex CComment();

    [GeneratedRegex(@"""((?:[^""\\\n]|\\.)*)""")]
    private static partial Regex CString();

    [GeneratedRegex("^--?[A-Za-z0-9][A-Za-z0-9-]*$")]
    private static partial Regex OptionName();

    static string CSource(string file) => CComment().Replace(File.ReadAllText(Repo.Path("native", file)), " ");

    /// <summary>Every string literal of <paramref name="code"/> that is an option name ("-x", "--long").</summary>
    static IEnumerable<string> OptionLiterals(string code) =>
        CString().Matches(code).Select(m => m.Groups[1].Value).Where(s => OptionName().IsMatch(s));

    public static TheoryData<string, OptionParsers> CParsers => new() { { "early.c", OptionParsers.EarlyC }, { "pause.c", OptionParsers.PauseC } };

    [Theory]
    [MemberData(nameof(CParsers))]
    public void The_C_parser_spells_exactly_the_table_options_it_reads(string file, OptionParsers parser)
    {
        string code = CSource(file);
        var rows = OptionTable.All.Where(o => o.IsParsedBy(parser)).ToList();
        // Of an option that chooses conmon mode early.c spells only the names that do (not --cid's -c: the server's --cgroup-manager).
        IEnumerable<string> names = rows.Where(o => !o.SelectsConmonMode).SelectMany(o => o.Names)
            .Concat(parser == OptionParsers.EarlyC ? OptionTable.ConmonModeNames() : []);
        AssertSameNames(names, OptionLiterals(code), $"native/{file}'s option names");
        AssertSameNames(rows.Where(o => o.Env is not null).Select(o => o.Env!),
            CString().Matches(code).Select(m => m.Groups[1].Value).Where(s => s.StartsWith("CONMON_", StringComparison.Ordinal)),
            $"native/{file}'s CONMON_* variables");
    }

    [Fact]
    public void Early_c_chooses_conmon_mode_by_the_table()
    {
        Match list = Regex.Match(CSource("early.c"), @"conmon_mode_flags\[\]\s*=\s*\{(.*?)\};", RegexOptions.Singleline);
        Assert.True(list.Success, "native/early.c: conmon_mode_flags[] not found");
        AssertSameNames(OptionTable.ConmonModeNames(), OptionLiterals(list.Groups[1].Value), "native/early.c's conmon_mode_flags");
    }

    [Fact]
    public void The_C_sources_are_read()
    {
        Assert.Contains("--skip-fork", OptionLiterals(CSource("early.c")));
        Assert.Contains("-p", OptionLiterals(CSource("pause.c")));
        Assert.DoesNotContain("--in-a-comment", OptionLiterals(CComment().Replace("/* \"--in-a-comment\" */ f(\"--x\");", " ")));
    }
}
