using Superalign.Optimization;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>
/// <see cref="GradientConflict"/> on whole gradient vectors, for checking the coefficient math against the projected and
/// combined vectors themselves. The optimizer never forms these: it measures the geometry over its gradient buffers and
/// combines them in place.
/// </summary>
internal static class TensorGradientConflict
{
    /// <summary>The geometry of two gradient vectors of any shape (flattened).</summary>
    public static GradientGeometry Measure(Tensor competence, Tensor conformity)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var c = competence.detach().reshape(-1);
        var f = conformity.detach().reshape(-1);
        var values = stack(new[] { c.dot(c), f.dot(f), c.dot(f) }).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        return new GradientGeometry(values[0], values[1], values[2]);
    }

    /// <summary>The update direction for two gradient vectors (same shape), and its coefficients.</summary>
    public static (Tensor Direction, GradientCombination Combination) Combine(
        Tensor competence, Tensor conformity, double competenceWeight, double conformityWeight, ConflictMode mode)
    {
        var combination = GradientConflict.Combine(Measure(competence, conformity), competenceWeight, conformityWeight, mode);
        using var _ = no_grad();
        var d = competence.detach() * combination.CompetenceCoefficient + conformity.detach() * combination.ConformityCoefficient;
        return (d, combination);
    }

    /// <summary>PCGrad's projected pair (g_c', g_f') for two gradient vectors (same shape).</summary>
    public static (Tensor Competence, Tensor Conformity, bool Projected) ProjectConflicting(Tensor competence, Tensor conformity)
    {
        var (onCompetence, onConformity, projected) = GradientConflict.Projection(Measure(competence, conformity));
        using var _ = no_grad();
        return (competence.detach() + conformity.detach() * onCompetence, conformity.detach() + competence.detach() * onConformity, projected);
    }
}
