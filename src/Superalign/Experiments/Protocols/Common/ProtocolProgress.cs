using System.Text.Encodings.Web;
using System.Text.Json;

namespace Superalign.Experiments.Protocols;

/// <summary>Where a protocol stands, reported to an <see cref="IProgress{T}"/> between units of work.</summary>
/// <param name="Protocol">The protocol's name (e.g. <c>weak-to-strong</c>).</param>
/// <param name="Stage">What just finished (e.g. <c>seed 2: strong ceiling trained</c>).</param>
/// <param name="Done">Units of work finished.</param>
/// <param name="Total">Units of work planned.</param>
public sealed record ProtocolProgress(string Protocol, string Stage, int Done, int Total)
{
    /// <summary><c>Done / Total</c>, in [0, 1].</summary>
    public double Fraction => Total <= 0 ? 1 : Math.Clamp((double)Done / Total, 0, 1);

    /// <inheritdoc />
    public override string ToString() => $"[{Protocol} {Done}/{Total}] {Stage}";
}
