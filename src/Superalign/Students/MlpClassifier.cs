using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>Options of an <see cref="MlpClassifier"/>.</summary>
/// <param name="InputFeatures">Number of input features (at least 1).</param>
/// <param name="Classes">Number of classes (at least 2).</param>
/// <param name="HiddenWidth">Width of every hidden layer (at least 1).</param>
/// <param name="Depth">Number of hidden layers, in [0, 64]; 0 gives multinomial logistic regression.</param>
/// <param name="Activation">Nonlinearity after each hidden layer.</param>
/// <param name="Dropout">Dropout probability after each hidden activation, in [0, 1); only active in training mode.</param>
/// <param name="ZeroInitHead">Start the output layer at zero (uniform predictions), as the weak-to-strong reference code does.</param>
/// <param name="Seed">Seed of the initial weights: the same seed gives the same weights on every device.</param>
public sealed record MlpClassifierOptions(
    int InputFeatures,
    int Classes,
    int HiddenWidth = 64,
    int Depth = 2,
    Activation Activation = Activation.ReLU,
    double Dropout = 0,
    bool ZeroInitHead = false,
    long Seed = 0)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        OptionCheck.AtLeast(InputFeatures, 1, nameof(InputFeatures));
        OptionCheck.AtLeast(Classes, 2, nameof(Classes));
        OptionCheck.AtLeast(HiddenWidth, 1, nameof(HiddenWidth));
        OptionCheck.InRange(Depth, 0, 64, nameof(Depth));
        if (!Enum.IsDefined(Activation))
            throw new ArgumentOutOfRangeException(nameof(Activation), Activation, $"{nameof(Activation)} must be one of {string.Join(", ", Enum.GetNames<Activation>())}.");
        OptionCheck.Probability(Dropout, nameof(Dropout));
    }
}

/// <summary>
/// A multilayer perceptron classifier: <c>Depth</c> hidden layers (linear, activation, dropout) and a linear head.
/// Its penultimate <see cref="Features"/> can feed a <see cref="LinearProbe"/>.
/// </summary>
public sealed class MlpClassifier : TorchStudent, IClassifierStudent
{
    private readonly MlpNetwork _network;

    /// <summary>Builds the classifier (initialised from <see cref="MlpClassifierOptions.Seed"/>) on <paramref name="device"/>.</summary>
    /// <param name="options">Architecture and initialisation; validated here.</param>
    /// <param name="device">Where the parameters live; null selects <see cref="Devices.Default"/>.</param>
    /// <param name="name">Name used in reports; null derives one from the architecture.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public MlpClassifier(MlpClassifierOptions options, Device? device = null, string? name = null)
        : this(Checked(options), device ?? Devices.Default(), name)
    {
    }

    private MlpClassifier((MlpClassifierOptions Options, MlpNetwork Network) built, Device device, string? name)
        : base(name ?? $"mlp[{built.Options.InputFeatures}-{built.Options.HiddenWidth}x{built.Options.Depth}-{built.Options.Classes}]", built.Network, device)
    {
        Options = built.Options;
        _network = built.Network;
    }

    private static (MlpClassifierOptions, MlpNetwork) Checked(MlpClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return (options, SeededInit.Build(options.Seed, g => new MlpNetwork(options, g)));
    }

    /// <summary>The options the classifier was built with.</summary>
    public MlpClassifierOptions Options { get; }

    /// <inheritdoc />
    public int InputFeatures => Options.InputFeatures;

    /// <inheritdoc />
    public int Classes => Options.Classes;

    /// <summary>Width of <see cref="Features"/>: <c>HiddenWidth</c>, or <c>InputFeatures</c> when <c>Depth</c> is 0.</summary>
    public int FeatureDimension => Options.Depth == 0 ? Options.InputFeatures : Options.HiddenWidth;

    /// <inheritdoc />
    public Tensor ClassLogits(Tensor features)
    {
        InputCheck.Features(features, InputFeatures, nameof(features));
        return _network.call(features);
    }

    /// <summary>
    /// Penultimate activations <c>[B, FeatureDimension]</c> for features <c>[B, InputFeatures]</c> (the input itself
    /// when <c>Depth</c> is 0). Gradients flow unless the caller disables them.
    /// </summary>
    public Tensor Features(Tensor features)
    {
        InputCheck.Features(features, InputFeatures, nameof(features));
        return _network.Features(features);
    }

    /// <summary>Class logits <c>[B, 1, Classes]</c> for a classification batch (inputs <c>[B, InputFeatures]</c>).</summary>
    public override Tensor Logits(ResponseBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return ClassLogits(batch.Inputs).unsqueeze(1);
    }

    /// <summary>The options as JSON: what <see cref="StudentFiles.Open"/> rebuilds this student from.</summary>
    public override string? Configuration => System.Text.Json.JsonSerializer.Serialize(Options);

    /// <inheritdoc />
    protected override TorchStudent CreateSibling() => new MlpClassifier(Options, Device, Name);

    /// <summary>Hidden layers and head; submodules are fields, registered by <c>RegisterComponents</c>.</summary>
    private sealed class MlpNetwork : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<Linear> hidden;
        private readonly Linear head;
        private readonly Dropout dropout;
        private readonly Activation _activation;
        private readonly bool _useDropout;

        public MlpNetwork(MlpClassifierOptions options, Generator generator) : base(nameof(MlpClassifier))
        {
            hidden = new ModuleList<Linear>();
            long width = options.InputFeatures;
            for (int i = 0; i < options.Depth; i++)
            {
                var layer = nn.Linear(width, options.HiddenWidth);
                SeededInit.Default(layer, generator);
                hidden.Add(layer);
                width = options.HiddenWidth;
            }
            head = nn.Linear(width, options.Classes);
            if (options.ZeroInitHead) SeededInit.Zero(head);
            else SeededInit.Default(head, generator);
            dropout = nn.Dropout(options.Dropout);
            _activation = options.Activation;
            _useDropout = options.Dropout > 0;
            RegisterComponents();
        }

        public Tensor Features(Tensor x)
        {
            foreach (var layer in hidden)
            {
                x = layer.call(x);
                x = _activation == Activation.GELU ? x.gelu() : x.relu();
                if (_useDropout) x = dropout.call(x);
            }
            return x;
        }

        public override Tensor forward(Tensor x) => head.call(Features(x));
    }
}
