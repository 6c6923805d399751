"""Traffic shapes: lengths fitted on the Azure LLM inference trace, arrival rates by hour, weekday and growth."""

from __future__ import annotations

from datetime import datetime

import numpy as np

# Shapes fitted once on the Azure LLM inference traces 2023 (Azure/AzurePublicDataset, CC BY 4.0;
# Patel et al., "Splitwise", ISCA 2024), file AzureLLMInferenceTrace_conv.csv: 19,366 requests
# in 58 minutes of 2023-11-16 (the code trace, 8,819 requests, was measured for comparison).
#   conversation ContextTokens:   p10 207, p25 396, p50 1020, p75 1189, p90 2734, p95 4083, p99 4142,
#                                 max 14050; log-mean 6.633, log-sd 0.985; 14.2% > 2000 tokens,
#                                 17.1% >= 1500 (that long mode: log-mean 8.025, log-sd 0.353, p50 3751)
#   conversation GeneratedTokens: p10 54, p50 129, p75 395, p90 424, p99 601, mean 211; bimodal:
#                                 66% short mode (log-mean 4.497, log-sd 0.547, p50 94) and
#                                 34% long mode >= 250 (log-mean 6.041, log-sd 0.138, p50 407)
#   conversation arrivals:        328 requests/min, per-minute count CV 0.25 (Poisson alone would be
#                                 0.055), inter-arrival CV 1.09, per-second variance/mean 1.39
#   code trace, for contrast:     context p50 1469 (log-mean 7.00, log-sd 1.36), generated p50 13,
#                                 per-minute CV 1.03 (far burstier)
# Used: attached documents and claim notes take the conversation context distribution (the long
# mode for adjusters' document-heavy requests); adjusters' long answers take the long generated
# mode (its spread widened from 0.138 to 0.30: one hour understates a month's variety); arrivals
# get per-minute gamma noise with the excess CV sqrt(0.25^2 - 0.055^2) = 0.24. The trace spans one
# hour, so the diurnal and weekday shapes below are assumptions (a US East-coast claims centre),
# not fits.
AZ_CTX_LOG_MU, AZ_CTX_LOG_SD = 6.633, 0.985
AZ_CTX_LONG_LOG_MU, AZ_CTX_LONG_LOG_SD = 8.025, 0.353
AZ_GEN_LONG_LOG_MU, AZ_GEN_LONG_LOG_SD = 6.041, 0.30
AZ_MINUTE_EXCESS_CV = 0.24

_UTC_OFFSET_H = -4  # customer's local time (US Eastern, daylight time)
# Relative arrival rate by local hour (0..23): customers (web, phone, mobile) and adjusters (desk).
_DIURNAL_CUSTOMER = (0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.65, 0.95, 1.15, 1.25, 1.25,
                     1.15, 1.20, 1.25, 1.20, 1.10, 0.95, 0.80, 0.70, 0.60, 0.50, 0.35, 0.22)
_DIURNAL_ADJUSTER = (0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.30, 0.90, 1.30, 1.40, 1.30,
                     0.90, 1.20, 1.35, 1.30, 1.10, 0.60, 0.20, 0.08, 0.05, 0.03, 0.02, 0.01)
_WEEKDAY_CUSTOMER = (1.15, 1.05, 1.00, 1.00, 0.95, 0.60, 0.50)  # Monday first
_WEEKDAY_ADJUSTER = (1.05, 1.00, 1.00, 1.00, 0.95, 0.08, 0.04)
_GROWTH_PER_DAY = 0.006  # business growth: about +19% over 30 days


def _intensity(start: datetime, days: int, diurnal, weekday, rng: np.random.Generator) -> np.ndarray:
    """Relative arrival rate per minute over the window."""
    m = np.arange(days * 1440, dtype=np.float64)
    local_h = ((m / 60.0 + start.hour + _UTC_OFFSET_H) % 24.0)
    hours = np.arange(25, dtype=np.float64)
    w = np.interp(local_h, hours, np.append(diurnal, diurnal[0]))
    day = ((m / 60.0 + start.hour + _UTC_OFFSET_H) // 24).astype(np.int64)
    wd = np.asarray(weekday)[(start.weekday() + day) % 7]
    growth = (1.0 + _GROWTH_PER_DAY) ** (m / 1440.0)
    k = 1.0 / AZ_MINUTE_EXCESS_CV ** 2
    noise = rng.gamma(k, 1.0 / k, size=m.size)
    return w * wd * growth * noise


def _sample_times(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in microseconds from the window start, by inverse CDF over the minute rates."""
    cdf = np.cumsum(w)
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return ((idx + rng.random(n)) * 60e6).astype(np.int64)


def _lognormal(rng: np.random.Generator, mu: float, sd: float, n: int, lo: int, hi: int) -> np.ndarray:
    return np.clip(rng.lognormal(mu, sd, n), lo, hi).astype(np.int32)
