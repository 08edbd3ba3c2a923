using System.Text;
using CsCheck;
using Podmon.Tracing.Http2;
using static Podmon.Tests.Tracing.Http2.HpackWire;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>
/// Properties: arbitrary input only ever decodes or raises HpackException, and blocks an encoder
/// builds against a model of the dynamic table decode to the model's fields and leave the model's
/// table (eviction, size updates, names taken from entries the insertion evicts).
/// </summary>
public class HpackPropertyTests
{
    static readonly byte[][] Seeds =
    [
        Hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
        Hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
        Hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"),
        Hex("4803 3330 37c1 c0bf"),
        Hex("1008 7061 7373 776f 7264 0673 6563 7265 74"),
        Hex("3fe1 1f 20 40 0161 0162 be"),
    ];

    static void DecodeOrReject(HpackDecoder d, byte[] block)
    {
        try { d.Decode(block, new HeaderList()); }
        catch (HpackException) { }
    }

    [Fact]
    public void Random_bytes_decode_or_raise_HpackException() =>
        Gen.Select(Gen.Int[0, 300], Gen.Byte.Array[0, 64], Gen.Byte.Array[0, 64]).Sample((limit, first, second) =>
        {
            var d = new HpackDecoder(limit);
            DecodeOrReject(d, first);
            DecodeOrReject(d, second); // a second block sees whatever table the first left
        }, iter: 50_000);

    [Fact]
    public void Mutated_RFC_blocks_decode_or_raise_HpackException() =>
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Int, Gen.Int[1, 4]).Sample((seed, randomSeed, edits) =>
        {
            var random = new Random(randomSeed);
            var block = new List<byte>(Seeds[seed]);
            for (int i = 0; i < edits; i++)
            {
                int at = random.Next(block.Count + 1);
                switch (random.Next(3))
                {
                    case 0 when at < block.Count: block[at] = (byte)random.Next(256); break;
                    case 1 when at < block.Count: block.RemoveAt(at); break;
                    default: block.Insert(at, (byte)random.Next(256)); break;
                }
            }
            var d = new HpackDecoder(256);
            DecodeOrReject(d, Seeds[seed]);
            DecodeOrReject(d, [.. block]);
        }, iter: 50_000);

    /// <summary>RFC 7541 §4 as the encoder sees it: newest first, size = Σ(name + value + 32).</summary>
    sealed class ModelTable(int maxSize)
    {
        public readonly List<(string Name, string Value)> Entries = [];
        public int MaxSize = maxSize;
        public int Size => Entries.Sum(e => e.Name.Length + e.Value.Length + 32);

        public void Resize(int maxSize)
        {
            MaxSize = maxSize;
            while (Size > MaxSize) Entries.RemoveAt(Entries.Count - 1);
        }

        public void Add(string name, string value)
        {
            int size = name.Length + value.Length + 32;
            while (Entries.Count > 0 && Size + size > MaxSize) Entries.RemoveAt(Entries.Count - 1);
            if (size <= MaxSize) Entries.Insert(0, (name, value));
        }
    }

    /// <summary>Mostly short, sometimes up to the table's limit (entries that fill it, or overflow it).</summary>
    static string RandomText(Random r, int limit) =>
        string.Create(r.Next(6) switch { 0 => r.Next(0, limit + 1), 1 => r.Next(0, 120), _ => r.Next(0, 12) }, r, (chars, rr) =>
        {
            for (int i = 0; i < chars.Length; i++) chars[i] = (char)(rr.Next(3) == 0 ? rr.Next(256) : rr.Next('a', 'z' + 1));
        });

    [Fact]
    public void Blocks_built_against_a_model_table_decode_to_the_models_fields_and_table() =>
        Gen.Int.Sample(seed =>
        {
            var r = new Random(seed);
            int limit = r.Next(4) == 0 ? r.Next(0, 64) : r.Next(64, 600);
            var decoder = new HpackDecoder(limit);
            var model = new ModelTable(limit);
            for (int blockNo = 0; blockNo < 12; blockNo++)
            {
                var block = new List<byte>();
                var expected = new List<(string, string)>();
                for (int u = r.Next(4) == 0 ? r.Next(1, 3) : 0; u > 0; u--)
                {
                    int size = r.Next(limit + 1);
                    SizeUpdate(block, size);
                    model.Resize(size);
                }
                for (int f = r.Next(0, 8); f > 0; f--)
                {
                    int dynamicCount = model.Entries.Count;
                    int kind = r.Next(5);
                    if (kind == 0 && dynamicCount > 0) // indexed, dynamic
                    {
                        int i = r.Next(dynamicCount);
                        Indexed(block, 62 + i);
                        expected.Add(model.Entries[i]);
                        continue;
                    }
                    if (kind == 1) // indexed, static
                    {
                        int i = r.Next(1, 62);
                        Indexed(block, i);
                        HpackStaticTable.Get(i, out ReadOnlySpan<byte> n, out ReadOnlySpan<byte> v);
                        expected.Add((Encoding.Latin1.GetString(n), Encoding.Latin1.GetString(v)));
                        continue;
                    }
                    byte representation = r.Next(3) switch { 0 => 0x00, 1 => 0x10, _ => 0x40 };
                    string value = RandomText(r, limit);
                    int nameIndex = 0;
                    string name;
                    int nameFrom = r.Next(3);
                    if (nameFrom == 0 && dynamicCount > 0) { nameIndex = 62 + r.Next(dynamicCount); name = model.Entries[nameIndex - 62].Name; }
                    else if (nameFrom == 1)
                    {
                        nameIndex = r.Next(1, 62);
                        HpackStaticTable.Get(nameIndex, out ReadOnlySpan<byte> n, out _);
                        name = Encoding.Latin1.GetString(n);
                    }
                    else name = RandomText(r, limit);
                    Literal(block, representation, nameIndex, Latin1(name), Latin1(value), r.Next(2) == 0, r.Next(2) == 0);
                    expected.Add((name, value));
                    if (representation == 0x40) model.Add(name, value);
                }
                var sink = new HeaderList();
                decoder.Decode([.. block], sink);
                Assert.Equal(expected, sink.Fields);
                Assert.Equal(model.Entries, Table(decoder));
                Assert.Equal(model.Size, decoder.DynamicTable.Size);
                Assert.Equal(model.MaxSize, decoder.DynamicTable.MaxSize);
            }
        }, iter: 3_000);
}
