using TorchSharp;
using Xunit;
namespace Superalign.Tests;
public class Smoke { [Fact] public void TorchLoads() => Assert.Equal(6f, torch.ones(2, 3).sum().item<float>()); }
