// The one header an embedding program needs.
#pragma once

#include "cuae/activation.h"
#include "cuae/backend_options.h"
#include "cuae/config.h"
#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/error.h"
#include "cuae/fit.h"
#include "cuae/layout.h"
#include "cuae/model.h"
#include "cuae/model_config.h"
#include "cuae/optimizer_state.h"
#include "cuae/run_config.h"
#include "cuae/tensor.h"
