using CapnpRead;
using Podmon.Capnp;

// capnp-read CASE ITERATIONS: reads one message ITERATIONS times and prints a checksum of what it read.
// The messages are built before the loop, so (instructions at N) - (instructions at 0), over N, is the
// cost of one read; bench/capnp_read.py takes it that way under callgrind.
//   create-v1, create-v073   createContainer params as CRI-O sends them, read as ConmonService does
//   version-v1, version-v073 version params, the same way
//   large-v1                 createContainer params with 2,000 envVars and 2,000 commandArgs, the same way
//   walk-v1                  the large message through the general reader alone: every pointer, every byte
if (args.Length != 2 || !int.TryParse(args[1], out int n))
{
    Console.Error.WriteLine("usage: capnp-read create-v1|create-v073|version-v1|version-v073|large-v1|walk-v1 ITERATIONS");
    return 2;
}
string name = args[0];
byte[] frame = name switch
{
    "create-v1" => Frames.Create(old: false),
    "create-v073" => Frames.Create(old: true),
    "version-v1" => Frames.Version(old: false),
    "version-v073" => Frames.Version(old: true),
    "large-v1" or "walk-v1" => Frames.Create(old: false, envVars: 2000, args: 2000),
    _ => [],
};
if (frame.Length == 0)
{
    Console.Error.WriteLine($"capnp-read: no case '{name}'");
    return 2;
}

var ctx = new ReadContext();
long sum = 0;
for (int i = 0; i < n; i++)
{
    StructReader parameters = new MessageReader(frame, ref ctx).Root;
    sum += name switch
    {
        "version-v1" or "version-v073" => Reads.Version(parameters),
        "walk-v1" => Reads.Walk(parameters),
        _ => Reads.Create(parameters),
    };
}
Console.WriteLine($"{name} x{n}: checksum {sum}");
return 0;
