"""Python views of the C option structs (struct_size first, plain fields).

A config object holds the ctypes struct, filled by the C *_config_init()
function, and exposes its fields as attributes. Array fields that come with a
count (channel_mult with n_levels, attention_ds with n_attention) read as
tuples of that length and set both the array and the count.
"""
import ctypes

from . import capi


class Config:
    _struct = None     # ctypes.Structure subclass
    _init = None       # name of the C *_config_init function, or None
    _arrays = {}       # array field -> its count field

    def __init__(self, **fields):
        object.__setattr__(self, "_c", capi.new(self._struct))
        if self._init is not None:
            fn = getattr(capi.lib, self._init, None)
            if fn is None:
                raise capi.Error(capi.ERR_NOT_BUILT, "%s is not in %s" % (self._init,
                                                                           capi.library_path))
            capi.check(fn(ctypes.byref(self._c)))
        for k, v in fields.items():
            setattr(self, k, v)

    @classmethod
    def _wrap(cls, struct):
        cfg = cls.__new__(cls)
        object.__setattr__(cfg, "_c", struct)
        return cfg

    def _names(self):
        counts = set(self._arrays.values())
        return [n for n, _ in self._struct._fields_ if n != "struct_size" and n not in counts]

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._arrays:
            arr = getattr(self._c, name)
            return tuple(arr[:getattr(self._c, self._arrays[name])])
        if name in dict(self._struct._fields_) and name != "struct_size":
            return getattr(self._c, name)
        raise AttributeError("%s has no field %r" % (type(self).__name__, name))

    def __setattr__(self, name, value):
        if name in self._arrays:
            arr = getattr(self._c, name)
            value = [int(v) for v in value]
            if len(value) > len(arr):
                raise ValueError("%s holds at most %d values" % (name, len(arr)))
            for i in range(len(arr)):
                arr[i] = value[i] if i < len(value) else 0
            setattr(self._c, self._arrays[name], len(value))
        elif name in self._names():
            setattr(self._c, name, value)
        else:
            raise AttributeError("%s has no field %r" % (type(self).__name__, name))

    def as_dict(self):
        return {n: getattr(self, n) for n in self._names()}

    def __eq__(self, other):
        return type(self) is type(other) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % kv for kv in self.as_dict().items()))


class GeneratorConfig(Config):
    """Generator architecture; defaults: the paper configuration (14,127,617
    parameters). Fields: in_channels, out_channels, model_channels,
    channel_mult (tuple), num_res_blocks, attention_ds (tuple),
    head_channels, context_dim, num_classes."""
    _struct = capi.GeneratorConfig
    _init = "i2ig_generator_config_init"
    _arrays = {"channel_mult": "n_levels", "attention_ds": "n_attention"}


class DiscriminatorConfig(Config):
    """Discriminator architecture; defaults: the reference (5,984,896
    parameters per head). Fields: num_classes, n_taps, width, text_dim,
    cmap_dim, kernel_size, sum_channels."""
    _struct = capi.DiscriminatorConfig
    _init = "i2ig_discriminator_config_init"


class TrainConfig(Config):
    """Training hyper-parameters; defaults: the reference (batch 4, Adam 2e-4,
    betas (0.5, 0.99), loss weights 1/10/1/1/1, seed 40, ...). Only in
    libraries built with training. Giving total_steps without decay_start
    sets decay_start = total_steps // 2, the reference schedule."""
    _struct = capi.TrainConfig
    _init = "i2ig_train_config_init"

    def __init__(self, **fields):
        if "total_steps" in fields and "decay_start" not in fields:
            fields["decay_start"] = int(fields["total_steps"]) // 2
        super().__init__(**fields)
