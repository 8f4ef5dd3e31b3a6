"""ctypes declarations of the trainer API for the training tests."""
import ctypes

from i2igalip import capi

lib = capi.lib
vp = ctypes.c_void_p


class TrainConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("batch_size", ctypes.c_int),
                ("crop_size", ctypes.c_int), ("flip", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("lr_generator", ctypes.c_double), ("lr_discriminator", ctypes.c_double),
                ("beta1", ctypes.c_double), ("beta2", ctypes.c_double),
                ("total_steps", ctypes.c_int64), ("decay_start", ctypes.c_int64),
                ("ema_decay", ctypes.c_double), ("w_adversarial", ctypes.c_double),
                ("w_cycle", ctypes.c_double), ("w_identity", ctypes.c_double),
                ("w_clip", ctypes.c_double), ("w_encoding", ctypes.c_double),
                ("threads", ctypes.c_int)]


class Losses(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("step", ctypes.c_int64),
                ("generator", ctypes.c_double), ("discriminator", ctypes.c_double),
                ("adversarial", ctypes.c_double), ("cycle", ctypes.c_double),
                ("identity", ctypes.c_double), ("clip", ctypes.c_double),
                ("encoding", ctypes.c_double), ("lr", ctypes.c_double)]


lib.i2ig_train_config_init.argtypes = [ctypes.POINTER(TrainConfig)]
lib.i2ig_trainer_create.argtypes = [ctypes.POINTER(TrainConfig), ctypes.POINTER(capi.GeneratorConfig),
                                    vp, ctypes.POINTER(vp)]
lib.i2ig_trainer_add_domain.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.POINTER(capi.IntensityMapping), ctypes.POINTER(vp),
                                        ctypes.c_size_t]
lib.i2ig_trainer_step.argtypes = [vp, ctypes.POINTER(Losses)]
lib.i2ig_trainer_save_checkpoint.argtypes = [vp, ctypes.c_char_p]
lib.i2ig_trainer_free.argtypes = [vp]
lib.i2ig_encoder_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
lib.i2ig_encoder_free.argtypes = [vp]
lib.i2ig_trainer_load_checkpoint.argtypes = [ctypes.c_char_p, vp, ctypes.POINTER(vp)]
lib.i2ig_trainer_steps_done.restype = ctypes.c_int64
lib.i2ig_trainer_steps_done.argtypes = [vp]
lib.i2ig_trainer_export_generator.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
