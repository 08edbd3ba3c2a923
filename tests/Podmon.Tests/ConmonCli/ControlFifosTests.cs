using Podmon.ConmonCli;
using Podmon.Loop;

namespace Podmon.Tests.ConmonCli;

/// <summary>The ctl and winsz FIFOs as podman writes them: whole lines, lines in pieces, several lines at once, junk.</summary>
public class ControlFifosTests
{
    [Fact]
    public void Lines_in_any_pieces_reach_resize_and_reopen()
    {
        string bundle = Directory.CreateTempSubdirectory("podmon-fifo-").FullName;
        try
        {
            using var loop = TestLoop.Create();
            var resizes = new List<(int H, int W)>();
            int reopens = 0;
            using var fifos = new ControlFifos(loop, bundle, (h, w) => resizes.Add((h, w)), () => reopens++);
            using var ctl = new FileStream(Path.Combine(bundle, "ctl"), FileMode.Open, FileAccess.Write);
            using var winsz = new FileStream(Path.Combine(bundle, "winsz"), FileMode.Open, FileAccess.Write);

            void Send(FileStream f, string text)
            {
                f.Write(System.Text.Encoding.ASCII.GetBytes(text));
                f.Flush();
                for (int i = 0; i < 5; i++) loop.RunOnce(20);
            }

            Send(ctl, "1 2");
            Assert.Empty(resizes); // half a line waits for its end
            Send(ctl, "4 80\n2 0 0\n");
            Assert.Equal([(24, 80)], resizes);
            Assert.Equal(1, reopens);
            Send(winsz, "30 100\n");
            Send(ctl, "junk line\n9 9 9\n1 -1 x\n1 50 132 7\n");
            Assert.Equal([(24, 80), (30, 100), (50, 132)], resizes);
            Assert.Equal(1, reopens);
            Send(ctl, new string('7', 3000));
            Send(ctl, "\n1 10 20\n"); // an over-long line is dropped, the next one is read
            Assert.Equal((10, 20), resizes[^1]);
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }
}
