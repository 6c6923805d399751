"""The fixed knowledge base of policy facts: excerpts, member questions and the answers a good model gives."""

from __future__ import annotations

from typing import Any

# (id, excerpt shown to the model, member questions, the answers a good model gives)
_ENTRIES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("collision_deductible",
     "Auto collision coverage carries the deductible on the declarations page ($500 on the standard plan). It applies "
     "once per claim and is refunded when Northwind recovers the full loss from an at-fault driver's insurer.",
     ("What is my collision deductible?", "Do I have to pay a deductible if I hit a pole?",
      "How much is the deductible on a collision claim?", "Is the collision deductible per claim or per year?",
      "Do I get my deductible back if the other driver was at fault?"),
     ("Collision claims carry the deductible on your declarations page, $500 on the standard plan, and it applies once "
      "per claim. If the other driver was at fault and we recover the full loss from their insurer, your deductible is "
      "refunded.",
      "Your collision deductible is the amount on your declarations page ($500 on the standard plan), charged once per "
      "claim. It is refunded when we recover the full loss from the at-fault driver's insurer.")),
    ("comprehensive_deductible",
     "Comprehensive coverage (theft, vandalism, fire, hail, falling objects, animal strikes) has its own deductible, "
     "$250 on the standard plan.",
     ("What's the deductible for hail damage to my car?", "Is there a deductible if my car is stolen?",
      "How much is my comprehensive deductible?", "Do I pay a deductible for hitting a deer?"),
     ("Comprehensive losses such as theft, vandalism, fire, hail and animal strikes have their own deductible, which "
      "is $250 on the standard plan.",
      "That falls under comprehensive coverage, which has a separate deductible of $250 on the standard plan.")),
    ("windshield",
     "Windshield and glass repair is covered with no deductible when the glass can be repaired; a full replacement is "
     "subject to the comprehensive deductible. Northwind glass partners bill Northwind directly.",
     ("Is windshield repair covered?", "Do I pay anything to fix a chip in my windshield?",
      "My windshield is cracked, do I have to pay the deductible?", "Does my policy cover replacing a windshield?"),
     ("Yes. Repairing a chip or crack costs you nothing because there is no deductible for glass repair, while a full "
      "windshield replacement is subject to your comprehensive deductible. If you use a Northwind glass partner, they "
      "bill us directly.",
      "A windshield that can be repaired is fixed with no deductible; if it has to be replaced, your comprehensive "
      "deductible applies. Northwind glass partners bill us directly.")),
    ("rental_car",
     "Rental reimbursement, when listed on the policy, pays up to $40 a day for a rental car for at most 30 days while "
     "the insured vehicle is repaired after a covered claim.",
     ("Will you pay for a rental car while mine is in the shop?", "How many days of rental car do I get?",
      "Is a rental car covered after an accident?", "What's the daily limit for a rental?",
      "Does my policy include a rental car?"),
     ("If rental reimbursement is on your policy, we pay up to $40 a day for a rental car, for up to 30 days, while "
      "your car is repaired after a covered claim.",
      "Rental reimbursement covers up to $40 per day for a maximum of 30 days while your vehicle is being repaired "
      "after a covered claim, as long as it is listed on your policy.")),
    ("roadside",
     "Roadside assistance covers towing up to 15 miles, jump starts, lockouts, flat-tire changes and fuel delivery, up "
     "to 3 service calls per policy year.",
     ("What does roadside assistance include?", "How far will you tow my car?",
      "How many roadside calls do I get a year?", "Does roadside cover a lockout?"),
     ("Roadside assistance includes towing up to 15 miles, jump starts, lockouts, flat-tire changes and fuel delivery. "
      "You can use up to 3 service calls per policy year.",
      "You get up to 3 roadside service calls per policy year, covering towing up to 15 miles, jump starts, lockouts, "
      "flat tires and fuel delivery.")),
    ("flood_exclusion",
     "Homeowners policies exclude flood damage from rising surface water. Flood protection requires a separate flood "
     "policy, for example through the National Flood Insurance Program, which has a 30-day waiting period.",
     ("Does my homeowners policy cover flooding?", "Is flood damage covered?",
      "Our basement flooded after the river rose, are we covered?", "Do I need separate flood insurance?"),
     ("No, homeowners policies exclude flood damage from rising surface water. You would need a separate flood policy, "
      "for example through the National Flood Insurance Program, which has a 30-day waiting period.",
      "Flood from rising surface water is excluded from homeowners coverage. A separate flood policy, such as one from "
      "the National Flood Insurance Program, is needed, and it starts after a 30-day waiting period.")),
    ("sewer_backup",
     "Water that backs up through sewers or drains is excluded unless the Water Backup endorsement is on the policy; "
     "the endorsement covers up to $10,000 per loss.",
     ("Is sewer backup covered?", "Water came up through my basement drain, does my policy cover it?",
      "What is the water backup endorsement?", "Am I covered if the sewer backs up into my house?"),
     ("Sewer and drain backup is only covered if the Water Backup endorsement is on your policy, and then up to "
      "$10,000 per loss.",
      "Water backing up through sewers or drains is excluded unless you have the Water Backup endorsement, which "
      "covers up to $10,000 per loss.")),
    ("burst_pipe",
     "Sudden and accidental water damage, such as from a burst pipe, is covered, including tearing out damaged "
     "materials; the repair of the pipe itself and damage from long-term leaks are not covered.",
     ("A pipe burst in my wall, is that covered?", "Are water leaks covered by homeowners insurance?",
      "Will you pay to fix the broken pipe?", "Is damage from a slow leak covered?"),
     ("Sudden and accidental water damage, like a burst pipe, is covered, including tearing out and replacing damaged "
      "materials. The repair of the pipe itself and damage from long-term leaks are not covered.",
      "We cover sudden water damage from a burst pipe, including the damaged walls and floors, but not the cost of "
      "fixing the pipe itself or damage from a slow, long-term leak.")),
    ("reporting_deadline",
     "Auto accidents should be reported within 30 days. Property claims must be filed within one year of the date of "
     "loss.",
     ("How long do I have to report an accident?", "Is there a deadline to file a claim?",
      "Can I still file a claim for damage from last year?", "How soon do I need to report a property claim?"),
     ("Auto accidents should be reported within 30 days, and property claims must be filed within one year of the date "
      "of loss.",
      "Please report auto accidents within 30 days. For property damage you have one year from the date of loss to "
      "file a claim.")),
    ("claim_timeline",
     "Northwind acknowledges a claim within 2 business days and makes a coverage decision within 15 business days "
     "after receiving all requested documents.",
     ("How long does a claim take?", "When will I hear back about my claim?",
      "How long until you make a decision on my claim?", "What is the claims processing time?"),
     ("We acknowledge every claim within 2 business days and make a coverage decision within 15 business days after we "
      "receive all the documents we asked for.",
      "You will hear from us within 2 business days of filing, and we decide on coverage within 15 business days of "
      "receiving all requested documents.")),
    ("total_loss",
     "A vehicle is a total loss when repairs would cost more than 75% of its actual cash value; Northwind then pays "
     "the actual cash value minus the deductible.",
     ("When is a car considered totaled?", "How do you decide if my car is a total loss?",
      "What do I get paid if my car is totaled?", "What is the total loss threshold?"),
     ("A car is a total loss when repairs would cost more than 75% of its actual cash value. In that case we pay the "
      "actual cash value minus your deductible.",
      "We declare a total loss when the repair cost exceeds 75% of the vehicle's actual cash value, and we then pay "
      "the actual cash value less your deductible.")),
    ("gap_coverage",
     "Loan/lease gap coverage pays the difference between the actual cash value and the balance owed on the loan or "
     "lease if the car is totaled, up to 25% of the actual cash value.",
     ("What does gap insurance cover?", "I owe more on my loan than the car is worth, what happens if it's totaled?",
      "Do I have gap coverage?", "How much does gap coverage pay?"),
     ("Gap coverage pays the difference between your car's actual cash value and what you still owe on the loan or "
      "lease if it is totaled, up to 25% of the actual cash value.",
      "If your car is totaled, loan/lease gap coverage pays the difference between its actual cash value and your loan "
      "or lease balance, capped at 25% of the actual cash value.")),
    ("uninsured_motorist",
     "Uninsured/underinsured motorist coverage pays for your injuries and, in most states, vehicle damage when the "
     "at-fault driver has no or too little insurance; the property damage part has a $250 deductible.",
     ("What if the driver who hit me has no insurance?", "What does uninsured motorist coverage pay for?",
      "The other driver was underinsured, am I covered?", "Is there a deductible for uninsured motorist claims?"),
     ("Uninsured/underinsured motorist coverage pays for your injuries and, in most states, your vehicle damage when "
      "the at-fault driver has no or too little insurance. The vehicle damage part has a $250 deductible.",
      "If the at-fault driver has no or too little insurance, your uninsured motorist coverage pays for your injuries "
      "and, in most states, your car's damage with a $250 deductible.")),
    ("medical_payments",
     "Medical payments coverage pays reasonable medical expenses for the insured and passengers after an accident, up "
     "to $5,000 per person, regardless of fault.",
     ("Are my passengers' medical bills covered?", "Does my policy pay for my doctor visits after the accident?",
      "How much is medical payments coverage?", "Do you cover medical bills if the accident was my fault?"),
     ("Medical payments coverage pays reasonable medical expenses for you and your passengers after an accident, up to "
      "$5,000 per person, no matter who was at fault.",
      "Yes, medical payments coverage pays up to $5,000 per person in reasonable medical bills for you and your "
      "passengers, regardless of fault.")),
    ("mold",
     "Mold is excluded unless it results from a covered water loss; then coverage is capped at $5,000 per policy term.",
     ("Is mold covered?", "We found mold after the pipe burst, will you pay for removal?",
      "Does homeowners insurance cover mold remediation?", "What's the limit for mold?"),
     ("Mold is only covered when it results from a covered water loss, and then up to $5,000 per policy term.",
      "Mold is excluded unless it comes from a covered water loss such as a burst pipe; in that case remediation is "
      "covered up to $5,000 per policy term.")),
    ("earthquake",
     "Earthquake and earth movement are excluded from homeowners policies; earthquake coverage is available as a "
     "separate endorsement with a deductible of 10% of the dwelling limit.",
     ("Am I covered for earthquakes?", "Does homeowners insurance cover earthquake damage?",
      "Can I add earthquake coverage?", "What's the deductible for earthquake coverage?"),
     ("Earthquake and earth movement are excluded from homeowners policies. You can add an earthquake endorsement, "
      "which has a deductible of 10% of your dwelling limit.",
      "Standard homeowners coverage excludes earthquakes, but an earthquake endorsement is available with a deductible "
      "equal to 10% of the dwelling limit.")),
    ("property_away",
     "Personal property is covered worldwide, but items stolen away from home are covered up to 10% of the personal "
     "property limit.",
     ("My laptop was stolen at a hotel, is it covered?", "Are my belongings covered when I travel?",
      "Is stuff stolen from my car covered by homeowners?", "Does my policy cover things outside my house?"),
     ("Your personal property is covered anywhere in the world, but theft away from your home is limited to 10% of "
      "your personal property limit.",
      "Yes, belongings are covered worldwide; items stolen away from home are covered up to 10% of your personal "
      "property limit.")),
    ("jewelry",
     "Theft of jewelry, watches and furs is limited to $1,500 in total per loss unless the items are scheduled on the "
     "policy with an appraisal.",
     ("Is my engagement ring covered if it's stolen?", "What's the limit for stolen jewelry?",
      "How do I fully insure my watch?", "Are jewelry thefts covered?"),
     ("Jewelry, watches and furs are covered for theft up to $1,500 in total per loss. To cover more, schedule the "
      "items on your policy with an appraisal.",
      "Theft of jewelry and watches is limited to $1,500 per loss unless you schedule the items on the policy with an "
      "appraisal.")),
    ("additional_living_expenses",
     "If a covered loss makes the home unlivable, Additional Living Expenses pay for a hotel, extra meal costs and "
     "other added expenses for up to 12 months.",
     ("Will you pay for a hotel while my house is repaired?", "What are additional living expenses?",
      "How long do you pay for temporary housing?", "Our house is unlivable after the fire, what now?"),
     ("If a covered loss makes your home unlivable, Additional Living Expenses pay for a hotel, extra meal costs and "
      "other added expenses for up to 12 months.",
      "Additional Living Expenses cover the extra cost of living elsewhere, such as a hotel and meals, for up to 12 "
      "months when a covered loss makes your home unlivable.")),
    ("dog_bite",
     "Personal liability covers bodily injury your dog causes to others, up to the liability limit, unless the animal "
     "is excluded on the declarations page.",
     ("My dog bit someone, am I covered?", "Does my policy cover dog bites?", "Is liability for my pets included?",
      "A neighbor's kid was bitten by our dog, what happens?"),
     ("Personal liability covers injuries your dog causes to others, up to your liability limit, unless the animal is "
      "excluded on your declarations page.",
      "Yes, dog bites to other people fall under your personal liability coverage up to your limit, unless your "
      "declarations page excludes the animal.")),
    ("rideshare",
     "Personal auto coverage does not apply while the driver is logged into a rideshare or delivery app; the Rideshare "
     "endorsement extends coverage to that period.",
     ("Am I covered when I drive for Uber?", "Does my auto policy cover food delivery?",
      "Is rideshare driving covered?", "What is the rideshare endorsement?"),
     ("Your personal auto coverage does not apply while you are logged into a rideshare or delivery app. The Rideshare "
      "endorsement extends your coverage to that time.",
      "Driving while logged into a rideshare or delivery app is not covered by a personal auto policy unless you add "
      "the Rideshare endorsement.")),
    ("new_vehicle",
     "A newly purchased vehicle is covered automatically for 30 days with the broadest coverage on the policy; it must "
     "be added within that time to stay covered.",
     ("I just bought a new car, is it covered?", "How long do I have to add a new car to my policy?",
      "Is my new truck insured before I call you?", "Do I need to add my new vehicle right away?"),
     ("A newly purchased vehicle is covered automatically for 30 days with the broadest coverage on your policy. Add "
      "it within those 30 days to keep it covered.",
      "Your new vehicle is covered automatically for 30 days with your policy's broadest coverage; please add it to "
      "the policy within that period.")),
    ("repair_shop",
     "Members may choose any repair shop. Repairs at a Northwind Direct Repair shop come with a lifetime workmanship "
     "guarantee for as long as the member owns the vehicle.",
     ("Can I pick my own body shop?", "Do I have to use your repair shops?", "Is there a guarantee on repairs?",
      "What is the Direct Repair program?"),
     ("You can choose any repair shop you like. If you use a Northwind Direct Repair shop, the workmanship is "
      "guaranteed for as long as you own the vehicle.",
      "Yes, the choice of shop is yours. Repairs done at a Northwind Direct Repair shop carry a lifetime workmanship "
      "guarantee while you own the car.")),
    ("tree_removal",
     "Removal of a fallen tree is covered up to $1,000 per loss when it damages a covered structure or blocks a "
     "driveway.",
     ("A tree fell in my yard, will you pay to remove it?", "Is tree removal covered?",
      "How much do you pay for tree removal after a storm?", "A tree fell on my fence, are we covered?"),
     ("Tree removal is covered up to $1,000 per loss when the fallen tree damages a covered structure or blocks your "
      "driveway.",
      "If a fallen tree damages a covered structure or blocks a driveway, we pay up to $1,000 per loss to remove it.")),
    ("home_business",
     "Business property kept at home is covered only up to $2,500; a home business endorsement is needed for more.",
     ("Is my home office equipment covered?", "I run a business from home, is my inventory insured?",
      "What's the limit for business property at home?", "Do I need extra coverage for my home business?"),
     ("Business property kept at home is covered only up to $2,500. For more than that, you would need a home business "
      "endorsement.",
      "Your policy covers business property at home up to $2,500; a home business endorsement raises that.")),
    ("custom_equipment",
     "Aftermarket equipment such as custom wheels or sound systems is covered up to $1,500 unless it is declared on "
     "the policy.",
     ("Are my custom rims covered?", "Is an aftermarket stereo covered if it's stolen?",
      "How much coverage is there for custom parts?", "Do I need to declare my lift kit?"),
     ("Aftermarket equipment such as custom wheels or sound systems is covered up to $1,500 unless you declare it on "
      "your policy.",
      "Custom parts and aftermarket equipment are covered up to $1,500; declare them on the policy to cover more.")),
)
KNOWLEDGE_BASE: tuple[dict[str, Any], ...] = tuple({"id": k, "excerpt": e, "questions": q, "answers": a}
                                                   for k, e, q, a in _ENTRIES)
