using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;

namespace Superalign.Experiments.Protocols;

/// <summary>What the protocol asks a model factory for.</summary>
/// <param name="Seed">The protocol seed of the repetition (use it to seed initial weights).</param>
/// <param name="Member">
/// The ensemble member index: 0 for the single weak model, the student and the ceiling; 1, 2, … for the further
/// members of a weak ensemble, which should differ from member 0 (another initialisation, trunk or architecture).
/// </param>
public readonly record struct ModelRequest(int Seed, int Member);

/// <summary>A model the protocol can train: a name for reports and a factory of fresh, untrained students.</summary>
/// <param name="Name">Name used in rows and tables.</param>
/// <param name="Create">
/// Returns a new student for each call (the protocol trains and disposes it). Its inputs must have the data's feature
/// width and its classes the data's class count.
/// </param>
public sealed record WeakToStrongModel(string Name, Func<ModelRequest, IClassifierStudent> Create);

/// <summary>
/// Your own data and models for <see cref="WeakToStrong"/>: a labeled training set (split 50/50 per seed), a labeled
/// test set, the weak models and the strong models.
/// </summary>
public sealed class WeakToStrongSetup
{
    /// <summary>Checks and stores the setup.</summary>
    /// <param name="train">Training examples (e.g. from <see cref="DataFiles.ReadClassificationCsv"/>); at least 4.</param>
    /// <param name="test">Test examples with the same feature width.</param>
    /// <param name="weak">Weak models (at least one, distinct names).</param>
    /// <param name="strong">Strong models (at least one, distinct names).</param>
    /// <exception cref="ArgumentException">The tables disagree, or a list is empty or repeats a name.</exception>
    public WeakToStrongSetup(ClassificationTable train, ClassificationTable test, IReadOnlyList<WeakToStrongModel> weak, IReadOnlyList<WeakToStrongModel> strong)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(weak);
        ArgumentNullException.ThrowIfNull(strong);
        if (train.Features.dim() != 2 || train.Features.shape[0] < 4)
            throw new ArgumentException($"train must hold features [N, F] with N >= 4; got [{string.Join(", ", train.Features.shape)}].", nameof(train));
        if (test.Features.dim() != 2 || test.Features.shape[0] < 1 || test.Features.shape[1] != train.Features.shape[1])
            throw new ArgumentException($"test must hold features [M, {train.Features.shape[1]}] like train; got [{string.Join(", ", test.Features.shape)}].", nameof(test));
        CheckModels(weak, nameof(weak));
        CheckModels(strong, nameof(strong));
        Train = train;
        Test = test;
        Weak = weak.ToArray();
        Strong = strong.ToArray();
        Classes = Math.Max(Math.Max(train.Classes, test.Classes), 2);
    }

    /// <summary>The training examples.</summary>
    public ClassificationTable Train { get; }

    /// <summary>The test examples.</summary>
    public ClassificationTable Test { get; }

    /// <summary>The weak models.</summary>
    public IReadOnlyList<WeakToStrongModel> Weak { get; }

    /// <summary>The strong models.</summary>
    public IReadOnlyList<WeakToStrongModel> Strong { get; }

    /// <summary>Number of classes: the larger of the two tables' counts.</summary>
    public int Classes { get; }

    private static void CheckModels(IReadOnlyList<WeakToStrongModel> models, string parameter)
    {
        if (models.Count == 0) throw new ArgumentException($"{parameter} must hold at least one model.", parameter);
        if (models.Any(m => m is null || m.Create is null || string.IsNullOrWhiteSpace(m.Name)))
            throw new ArgumentException($"{parameter} must hold models with a name and a factory.", parameter);
        if (models.Select(m => m.Name).Distinct().Count() != models.Count)
            throw new ArgumentException($"{parameter} must not repeat a name; got [{string.Join(", ", models.Select(m => m.Name))}].", parameter);
    }
}
