"""configs/base.py is the one source of the defaults: the config dataclasses' own defaults are
its base variant, so code that builds one directly gets what a run gets."""
import dataclasses

import pytest

from configs.base import get_config
from drzjax import model as model_lib
from drzjax import tokens
from drzjax.data import channel
from drzjax.data import mixtures
from drzjax.data import real


@pytest.mark.parametrize("cls", [model_lib.ModelConfig, mixtures.MixConfig,
                                 channel.ChannelConfig, tokens.Vocab, real.RealConfig])
def test_dataclass_defaults_are_the_base_config(cls):
  assert cls() == cls.from_config(get_config("base"))


def test_every_channel_dial_is_a_config_key():
  names = {f.name for f in dataclasses.fields(channel.ChannelConfig)}
  assert names == set(get_config("base").channel.keys())
  assert {n.removesuffix("_prob") for n in names} == set(channel.EFFECTS)
