"""The claim vocabulary the stories and tasks share: incident types and how they are told, amounts, injuries,
claim statuses and adjusters."""

from __future__ import annotations

INCIDENT_TYPES = ("collision", "theft", "vandalism", "fire", "water_damage", "hail", "windstorm", "glass",
                  "animal_collision", "liability")
_INCIDENT_P = (0.34, 0.08, 0.05, 0.04, 0.11, 0.08, 0.07, 0.10, 0.07, 0.06)

# (first person, third person, short name, where it can happen) per incident type; where: "home" (the
# insured's address), "road" (a highway), "xing" (an intersection), "lot" (a street address), "auto" (any of those)
_INCIDENTS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "collision": (
        ("I was rear-ended while stopped at a red light", "the insured was rear-ended while stopped at a red light",
         "rear-end collision", "auto"),
        ("another driver ran a stop sign and hit the passenger side of my {vehicle}",
         "another driver ran a stop sign and struck the passenger side of the insured's {vehicle}",
         "intersection collision", "xing"),
        ("I slid on black ice and hit a guardrail", "the insured slid on black ice and struck a guardrail",
         "single-vehicle collision", "road"),
        ("a delivery van backed into my parked {vehicle}", "a delivery van backed into the insured's parked {vehicle}",
         "parked-vehicle collision", "lot"),
        ("I got sideswiped merging onto the highway", "the insured was sideswiped while merging onto the highway",
         "sideswipe collision", "road"),
    ),
    "theft": (
        ("my {vehicle} was stolen from my driveway overnight",
         "the insured's {vehicle} was stolen from the driveway overnight", "vehicle theft", "home"),
        ("someone broke into my car and took my laptop and the stereo",
         "someone broke into the insured's car and took a laptop and the stereo", "vehicle break-in", "lot"),
        ("our house was broken into while we were away and jewelry and a TV were taken",
         "the home was burglarized while the insureds were away and jewelry and a TV were taken", "burglary", "home"),
    ),
    "vandalism": (
        ("someone keyed both sides of my {vehicle} and slashed two tires",
         "someone keyed both sides of the insured's {vehicle} and slashed two tires", "vehicle vandalism", "lot"),
        ("our fence and garage door were spray painted", "the fence and garage door were spray painted",
         "property vandalism", "home"),
    ),
    "fire": (
        ("a kitchen fire damaged the stove, the cabinets and the ceiling",
         "a kitchen fire damaged the stove, the cabinets and the ceiling", "kitchen fire", "home"),
        ("an electrical fire started in our garage", "an electrical fire started in the garage", "electrical fire",
         "home"),
    ),
    "water_damage": (
        ("a pipe burst in the upstairs bathroom and water came through the kitchen ceiling",
         "a pipe burst in the upstairs bathroom and water came through the kitchen ceiling", "burst pipe", "home"),
        ("the water heater failed and flooded our basement", "the water heater failed and flooded the basement",
         "water heater failure", "home"),
    ),
    "hail": (
        ("a hailstorm dented the hood and roof of my {vehicle}",
         "a hailstorm dented the hood and roof of the insured's {vehicle}", "hail damage to a vehicle", "auto"),
        ("hail damaged our roof shingles and gutters", "hail damaged the roof shingles and gutters",
         "hail damage to a roof", "home"),
    ),
    "windstorm": (
        ("high winds brought a tree down on our garage roof", "high winds brought a tree down on the garage roof",
         "wind and fallen-tree damage", "home"),
        ("a storm tore off part of our roof and siding", "a storm tore off part of the roof and siding",
         "wind damage to a roof", "home"),
    ),
    "glass": (
        ("a rock hit my windshield on the highway and cracked it",
         "a rock struck the windshield on the highway and cracked it", "windshield crack", "road"),
        ("the rear window of my {vehicle} shattered", "the rear window of the insured's {vehicle} shattered",
         "broken rear window", "lot"),
    ),
    "animal_collision": (
        ("I hit a deer driving home at night", "the insured struck a deer while driving at night", "deer strike",
         "road"),
        ("a deer ran out and hit the front of my {vehicle}",
         "a deer ran out and struck the front of the insured's {vehicle}", "deer strike", "road"),
    ),
    "liability": (
        ("a guest slipped on our icy front steps and hurt their wrist",
         "a guest slipped on the insured's icy front steps and injured a wrist", "slip-and-fall injury", "home"),
        ("a ladder fell off my truck and damaged another car",
         "a ladder fell off the insured's truck and damaged another car", "third-party property damage", "road"),
    ),
}
_AMOUNT_RANGE = {"collision": (900, 16000), "theft": (600, 9000), "vandalism": (400, 5000), "fire": (4000, 60000),
                 "water_damage": (2500, 40000), "hail": (1500, 22000), "windstorm": (3000, 35000),
                 "glass": (180, 1600), "animal_collision": (1500, 9000), "liability": (1200, 25000)}
# (as the customer writes it, as a claim file states it)
_INJURY_YES = (("my passenger hurt her neck and went to urgent care",
                "a passenger hurt her neck and went to urgent care"),
               ("I have some back pain and saw a doctor", "the insured has back pain and saw a doctor"),
               ("the other driver complained of neck pain", "the other driver complained of neck pain"),
               ("I cut my hand and needed stitches", "the insured cut a hand and needed stitches"))
_INJURY_NO = ("No one was hurt.", "Nobody was injured.", "No injuries.", "Thankfully no one was hurt.")

_STATUS = (
    ("awaiting the repair estimate", "follow up with the shop for the repair estimate"),
    ("scheduled for a field inspection", "complete the inspection and review the photos"),
    ("approved with payment pending", "issue payment to the insured"),
    ("referred to the Special Investigations Unit", "wait for the SIU review before any payment"),
    ("waiting on the police report", "request the police report from the department"),
    ("pending a recorded statement", "take the insured's recorded statement"),
    ("awaiting contractor bids", "compare the contractor bids"),
    ("approved and closed", "send the closing letter"),
)
_ADJUSTERS = ("R. Okafor", "J. Patel", "M. Brennan", "S. Delgado", "T. Nguyen", "K. Larsen", "A. Haddad",
              "L. Castillo", "D. Whitfield", "P. Novak", "C. Mensah", "E. Rossi")
