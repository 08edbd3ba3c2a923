using Podmon.Capnp;
using Podmon.Rpc;
using Podmon.Schema;

namespace CapnpRead;

/// <summary>
/// Reads every field a handler of ConmonService reads, through the same detection and accessors, but
/// sums lengths and values instead of copying into strings, so that the count is the reader's alone.
/// </summary>
static class Reads
{
    public static long Create(StructReader parameters)
    {
        StructReader request = SchemaGeneration.Request(ConmonMethod.CreateContainer, parameters, out bool old);
        var r = new CreateContainerRequestReader(request, old);
        long sum = r.Id.Length + r.BundlePath.Length + (r.Terminal ? 1 : 0) + (r.Stdin ? 2 : 0) + (int)r.CgroupManager;
        sum += Texts(r.ExitPaths) + Texts(r.OomExitPaths) + Texts(r.CleanupCmd) + Texts(r.GlobalArgs) + Texts(r.CommandArgs);
        LogDriverListReader logs = r.LogDrivers;
        for (int i = 0; i < logs.Count; i++)
        {
            LogDriverReader d = logs[i];
            sum += (int)d.Type + (long)d.MaxSize + (d.HasPath ? d.Path.Length : -1);
        }
        sum += Pairs(r.Metadata) + Pairs(r.EnvVars) + Fds(r.AdditionalFds) + Fds(r.LeakFds);
        return sum;
    }

    public static long Version(StructReader parameters)
    {
        StructReader request = SchemaGeneration.Request(ConmonMethod.Version, parameters, out bool old);
        var r = new VersionRequestReader(request, old);
        return (r.Verbose ? 1 : 0) + (old ? 2 : 0) + Pairs(r.Metadata);
    }

    /// <summary>Every pointer below the params, through StructReader and ListReader only.</summary>
    public static long Walk(StructReader s)
    {
        long sum = s.DataBytes > 0 ? (long)s.ReadUInt64(0) : 0;
        for (int i = 0; i < s.PointerCount; i++)
            sum += Walk(s.GetPointer(i));
        return sum;
    }

    static long Walk(PointerReader p)
    {
        if (p.IsNull) return 0;
        if (p.Kind == PointerKind.Struct) return Walk(p.GetStruct());
        ListReader list = p.GetList();
        long sum = list.Count;
        switch (list.ElementSize)
        {
            case ElementSize.InlineComposite:
                for (int i = 0; i < list.Count; i++) sum += Walk(list.GetStruct(i));
                break;
            case ElementSize.Pointer:
                for (int i = 0; i < list.Count; i++) sum += Walk(list.GetPointer(i));
                break;
            default:
                foreach (byte b in list.RawBytes) sum += b;
                break;
        }
        return sum;
    }

    static long Texts(TextListReader list)
    {
        long sum = list.Count;
        for (int i = 0; i < list.Count; i++) sum += list[i].Length;
        return sum;
    }

    static long Pairs(TextTextMapEntryListReader list)
    {
        long sum = list.Count;
        for (int i = 0; i < list.Count; i++)
        {
            TextTextMapEntryReader e = list[i];
            sum += e.Key.Length + e.Value.Length;
        }
        return sum;
    }

    static long Fds(PrimitiveListReader<ulong> list)
    {
        long sum = list.Count;
        for (int i = 0; i < list.Count; i++) sum += (long)list[i];
        return sum;
    }
}
